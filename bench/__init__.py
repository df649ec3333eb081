"""Benchmarks of assistants-client against openai-python and a floor (``make bench``).

Each benchmark lives in its own module (``bench/bench_*.py``) and runs in a fresh process;
``python -m bench`` runs them all, prints one table and writes ``bench/results/latest.json``.
"""
