"""The bench of issue 6: ``make bench`` (or ``python -m benchmarks``) prints one markdown table."""
