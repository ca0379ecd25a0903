"""``zoo sweep``: hyperparameter search with Optuna, every trial a run folder, many workers on one study.

A plugin like any third party's: it adds one command through ``register_commands`` and nothing to
the registries. Optuna is optional (``pip install 'zoo[sweep]'``) and imported only when the
command runs, so ``zoo list`` and ``zoo plugins`` work without it.
"""

from zoo_core import hookimpl


@hookimpl
def register_commands(cli):
    from zoo_plugins.sweep.commands import sweep

    cli.add_command(sweep)
