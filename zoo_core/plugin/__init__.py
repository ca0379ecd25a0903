"""The plugin layer, at the bottom: what a plugin is written against and how zoo finds plugins.

The hooks and their registries, plugin discovery through entry points, the ``Trainer`` and
``Predictor`` base classes, ``Splits`` and batching, errors, and the small helpers lessons share
(figures, activations by name, text tables, atomic file writes). It imports nothing above it.
"""
