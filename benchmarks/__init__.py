"""zoo's benchmark suite: the project's figures next to plain hand-written PyTorch baselines.

``python -m benchmarks`` runs every row and prints one table (``--help`` for the options); the
baselines live in ``benchmarks/baselines.py`` and use the same model, data, seed and step count
as the zoo side, with the same thread count. ``benchmarks/gpu.sh`` collects the CUDA evidence.
"""
