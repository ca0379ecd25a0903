"""Using a trained model: ``zoo predict``, ``zoo export`` and ``zoo push``."""

from __future__ import annotations

from pathlib import Path

import click

from zoo_core.cli.app import cli, echo_json
from zoo_core.plugin.errors import ZooError


@cli.command("predict", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("run", metavar="RUN", required=False)
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("--top-k", type=click.IntRange(min=1), default=None, help="Classes shown per input [3].")
@click.option(
    "--out", type=click.Path(file_okay=False), default=None, help="Folder for files a model writes [.]."
)
@click.option("--device", default="cpu", show_default=True, help="Where to run the model.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--help", "-h", "show_help", is_flag=True, help="Show this message (with RUN: its model's options)."
)
def predict_cmd(
    run: str | None,
    inputs: tuple[str, ...],
    top_k: int | None,
    out: str | None,
    device: str,
    as_json: bool,
    show_help: bool,
) -> None:
    """Run a trained model on your own inputs, read the way its lesson says.

    RUN is a run folder, a model name (its latest run), a .safetensors file, a hub folder or
    hf://org/name. INPUTs: numbers for the regression lessons (0.5 -0.3), x,y points for
    classification, digit images for the MNIST models (--top-k), images for the autoencoder
    (reconstructions go to --out), prompts for char-gpt; any other model reads .npy, .safetensors
    or .json tensors. A model's predictor may add options of its own: 'zoo predict RUN --help'.
    """
    from zoo_core.serve.predict import predict, split_options

    ctx = click.get_current_context()
    args, given = split_options(inputs)
    if show_help or "help" in given:
        click.echo(ctx.get_help())
        if run is not None:
            click.echo(_predictor_help(run))
        return
    if run is None:
        raise ZooError("name a RUN to predict with (a run folder or a model name); see 'zoo predict --help'")
    from zoo_core.training.devices import pick_device

    dev, _ = pick_device(device)
    result = predict(run, args, top_k=top_k, out=out, device=str(dev), options=given)
    if not run.startswith("hf://") and not Path(run).exists():  # a model name: say which run it took
        click.echo(f"using the latest run of {run}: {result.source}", err=True)
    if as_json:
        echo_json({"model": result.model, "source": result.source, "predictions": result.records})
        return
    click.echo(result.text)


def _predictor_help(run: str) -> str:
    """The lines ``zoo predict RUN --help`` adds: what an INPUT is for RUN's model, and its options."""
    from zoo_core.serve.predict import predictor_of
    from zoo_core.serve.trained import open_run

    trained = open_run(run)
    predictor = predictor_of(trained.entry)
    lines = [f"\nModel {trained.entry.qualname}: INPUT is {predictor.inputs}"]
    if predictor.options:
        lines.append("Its predictor's options:")
        rows = [("--" + n.replace("_", "-"), o) for n, o in predictor.options.items()]
        width = max(len(flag) for flag, _ in rows)
        for flag, option in rows:
            kind = type(option.default).__name__.upper()
            lines.append(f"  {flag:<{width}}  {kind:<5}  {option.help}  [default: {option.default}]")
    return "\n".join(lines)


@cli.command("export")
@click.argument("run", metavar="RUN")
@click.option(
    "--format", "fmt", type=click.Choice(["pt2", "onnx", "hub"]), required=True, help="What to write."
)
@click.option(
    "--out", type=click.Path(), default=None, help="File (pt2, onnx) or folder (hub) [beside the weights]."
)
@click.option(
    "--force", is_flag=True, help="Replace an existing --out file (never one of the run's own files)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def export_cmd(run: str, fmt: str, out: str | None, force: bool, as_json: bool) -> None:
    """Export a trained model: torch.export (.pt2), ONNX, or a Hugging Face model folder (hub).

    pt2 and onnx are checked on the spot: the saved program runs the model's example input and
    must match PyTorch within 1e-5 + 1e-4 * |y|, or nothing is written. ONNX needs
    pip install 'zoo[onnx]'.
    """
    if fmt == "hub":
        from zoo_core.serve.hub import write_folder

        folder = write_folder(run, out)
        if as_json:
            echo_json(
                {"format": "hub", "path": str(folder), "files": sorted(p.name for p in folder.iterdir())}
            )
            return
        click.echo(f"wrote {folder}: {', '.join(sorted(p.name for p in folder.iterdir()))}")
        click.echo(f"load it: zoo eval {folder}, or zoo_core.load_model({str(folder)!r}); share it: zoo push")
        return
    from zoo_core.serve.export import export

    result = export(run, fmt, out, force=force)
    if as_json:
        echo_json(result.to_dict())
        return
    batch = "dynamic batch" if result.dynamic_batch else "fixed batch"
    part = f" ({result.part})" if result.part else ""
    click.echo(f"exported {result.model}{part} to {result.path} ({result.bytes:,} bytes, {batch})")
    click.echo(
        f"verified: largest difference from PyTorch {result.max_difference:.3g} on batches of "
        f"{' and '.join(map(str, result.batches))} (tolerance {result.tolerance})"
    )
    how = {
        "pt2": f"torch.export.load({result.path!r}).module()(x)",
        "onnx": f"s = onnxruntime.InferenceSession({result.path!r}); s.run(None, {{s.get_inputs()[0].name: x}})",
    }
    click.echo(f"load it: {how[fmt]}")


@cli.command("push")
@click.argument("run", metavar="RUN")
@click.argument("repo_id", metavar="ORG/NAME")
@click.option("--private", is_flag=True, help="Create the repository as private.")
def push_cmd(run: str, repo_id: str, private: bool) -> None:
    """Upload a run to the Hugging Face Hub as a model repo (needs pip install 'zoo[hub]' and a login)."""
    from zoo_core.serve.hub import push

    url = push(run, repo_id, private=private)
    click.echo(f"pushed {run} to {url}; load it: zoo eval hf://{repo_id}")
