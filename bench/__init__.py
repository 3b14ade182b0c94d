"""Benchmarks: one command each, a table of figures, no pass/fail timing (bench/README.md)."""
