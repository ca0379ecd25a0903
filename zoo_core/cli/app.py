"""The ``zoo`` group itself: plugin commands beside ours, one-line errors, and what commands share."""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import click

from zoo_core.plugin.discovery import get_zoo
from zoo_core.plugin.errors import Interrupted, ZooError, debugging, printable
from zoo_core.plugin.hookspecs import VERSION


def complete(kind: str) -> Any:
    """Shell completion of registry names (``plugin:name`` included)."""

    def candidates(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        names: set[str] = set()
        for entry in get_zoo().registries[kind].list():
            names.update((entry.name, entry.qualname))
        return sorted(n for n in names if n.startswith(incomplete))

    return candidates


def echo_json(data: Any) -> None:
    """Print ``--json`` output: indented for people, anything JSON lacks (paths ...) as text, NaN
    and infinities as null (standard JSON, for jq and browsers)."""
    from zoo_core.plugin.atomic import finite_json

    click.echo(json.dumps(finite_json(data)[0], indent=2, default=str, allow_nan=False))


def say_error(exc: ZooError) -> int:
    """A ZooError as one line on stderr (its traceback first with --debug); returns the exit code."""
    if debugging():
        traceback.print_exc()
    click.echo(f"zoo: error: {printable(str(exc))}", err=True)  # one line, whatever a name holds
    return exc.exit_code


_HELP_ERRORS: tuple[type[Exception], ...] = tuple(
    e for e in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if e is not None
)


class ZooGroup(click.Group):
    """The top-level group: core commands plus the commands plugins add (never replacing ours)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(get_zoo().commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        found = get_zoo().commands.get(name)
        return found[1] if found else None

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """click's own usage errors (a bad option value, a missing argument) as one line too."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:  # as click does it in standalone mode
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except _HELP_ERRORS as exc:  # bare 'zoo': the help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            click.echo(f"zoo: error: {printable(exc.format_message())}{where}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            ctx.exit(say_error(exc))
        except KeyboardInterrupt:  # click would print "Aborted!" and exit 1: one line, exit 130
            ctx.exit(say_error(Interrupted("interrupted (Ctrl-C)")))
        except EOFError as exc:  # click would turn it into a bare "Aborted!": keep what happened
            raise RuntimeError(f"unexpected end of data ({exc or 'EOFError'})") from exc


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, "--version", prog_name="zoo")
@click.option("--debug", is_flag=True, help="Show full tracebacks (also ZOO_DEBUG=1).")
def cli(debug: bool) -> None:
    """zoo: the classic PyTorch lessons as ready-to-train models, and a home for your own.

    \b
    zoo list                 what the installed plugins offer
    zoo train regression     train a lesson with its recipe
    zoo runs                 what you have trained
    zoo predict RUN INPUT... run it on your own inputs (zoo export: .pt2, ONNX, hub)
    """
    if debug:
        os.environ["ZOO_DEBUG"] = "1"


def main() -> None:
    """Console entry point: one-line errors, exit 2; tracebacks only with --debug or ZOO_DEBUG=1."""
    from zoo_core.training.parallel.job import launched, leave

    if not launched():
        _main()
        return
    try:  # a worker of a torchrun job ends without Python's finalization (see leave)
        _main()
    except SystemExit as exc:
        leave(exc.code)
    except BaseException:
        traceback.print_exc()
        leave(1)
    leave(0)


def _main() -> None:
    if "--debug" in sys.argv[1:]:
        os.environ["ZOO_DEBUG"] = "1"
    try:
        cli.main(prog_name="zoo")
    except ZooError as exc:  # raised while building the command list (e.g. strict plugin mode)
        sys.exit(say_error(exc))
    except Exception as exc:
        if debugging():
            raise
        click.echo(
            f"zoo: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True
        )
        sys.exit(1)
