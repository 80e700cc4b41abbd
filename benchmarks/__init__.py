"""Reproducible benchmarks; `benchmarks.workloads` is shared by the reliability ones."""
