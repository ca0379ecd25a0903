"""Data-parallel jobs: the launcher that starts workers, what a worker does, and its trainer wrapper."""
