"""Benchmarks (step timings, parallel sweeps, the GPU session): run them as scripts from the repository root."""
