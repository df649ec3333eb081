"""Tests of assistants_client.django and the example site built on it."""
