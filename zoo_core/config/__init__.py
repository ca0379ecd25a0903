"""The config layer: what a run will do, resolved from a model's recipe, a config file, flags and ``--set``.

Every setting is checked here, wherever it comes from; the result is one ``RunConfig``.
"""
