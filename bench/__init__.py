"""Speed benchmarks (issue 6): run bench/speed.py as a script from the repository root."""
