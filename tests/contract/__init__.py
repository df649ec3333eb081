"""Contract tests against the Prism mock server (see conftest.py)."""
