"""The training layer: one place builds a run (``assembly``), one loop trains it (``loop``).

Around them: the devices, seeding, what the loop does around the losses (``optimization``), what
it writes as it goes (``record``), best weights and early stopping (``monitor``), progress output,
CUDA graphs, and data-parallel jobs (``parallel``).
"""
