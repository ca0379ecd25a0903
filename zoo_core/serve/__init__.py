"""The serve layer: using trained runs.

``trained.open_run`` is the one way to open a run; evaluation, prediction, export, hub folders,
the comparison of runs and of saving formats are built on it.
"""
