"""Benchmarks of the learning core on real data: `python -m training.bench --help`."""
