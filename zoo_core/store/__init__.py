"""The store layer: run folders on disk and what is in them.

The folder layout and the runs index, safetensors checkpoints with zoo's metadata, the resumable
training state, and the lock that keeps one process per run folder. Files read back are untrusted
and validated here.
"""
