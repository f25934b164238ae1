"""`python -m bench`: the benchmark suite of issue #9 (docs/benchmarks.md).

Every stage is measured next to its baseline in the same run, on a throwaway vhost, against the
processes the Procfile starts. Nothing connects at import time.
"""
