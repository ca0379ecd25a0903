"""Lesson 304: train a small net, save it, reload it two ways, and check nothing changed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo_core import (
    PICKLE,
    WEIGHTS,
    atomic_path,
    compare_formats,
    formats_table,
    load_pickle,
    load_weights,
    pickle_globals,
    pyplot,
    save_figure,
    table,
)
from zoo_core import activation as make_activation
from zoo_plugins.standard.supervised import Supervised

#: what the trainer records of the net still in memory, so reloads can be compared with it
TRAINED_OUTPUTS = "trained_outputs.safetensors"
FIGURE = "save-reload.png"
PANELS = "save-reload-3ways.png"


def Net(n_hidden: int = 10, activation: str = "relu") -> nn.Sequential:  # noqa: N802 - a model factory
    """The tutorial's ``net1``: ``nn.Sequential(Linear(1, 10), ReLU(), Linear(10, 1))``."""
    return nn.Sequential(nn.Linear(1, n_hidden), make_activation(activation), nn.Linear(n_hidden, 1))


# -- dead nets ---------------------------------------------------------------------------------
_GATES = (nn.ReLU, nn.ReLU6, nn.Hardtanh)  # activations whose units can switch off for good


@torch.no_grad()
def unit_activity(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """How many hidden units of each ReLU layer fire (output > 0) on at least one input of ``x``,
    and how much the outputs vary; a net whose ReLUs are all silent outputs a constant.
    """
    seen: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
        for m in model.modules()
        if isinstance(m, nn.ReLU)
    ]
    was_training = model.training
    model.eval()
    try:
        out = model(x)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    active = [int((h.flatten(1) > 0).any(0).sum()) for h in seen]
    units = [h.flatten(1).shape[1] for h in seen]
    spread = float(out.max() - out.min()) if out.numel() else 0.0
    dead = any(a == 0 for a in active) or spread == 0.0
    return {"dead": dead, "active_units": sum(active), "units": sum(units), "output_range": spread}


class SaveReloadTrainer(Supervised):
    """The supervised step; ``evaluate`` adds ``dead`` (1.0 when every hidden ReLU is silent on the
    data, so the net is a constant) and ``active_units``. Its figure marks a dead net as such.
    """

    def evaluate(self, model, data, device):
        metrics = super().evaluate(model, data, device)
        x = data.evaluation.tensors[0].to(device)
        activity = unit_activity(model, x)
        metrics["dead"] = 1.0 if activity["dead"] else 0.0
        metrics["active_units"] = float(activity["active_units"])
        return metrics

    def figures(self, model, data, device, history, run_dir):
        from safetensors.torch import save_file

        x, y = (t.to(device) for t in data.train.tensors[:2])
        with torch.no_grad():
            was_training = model.training
            model.eval()
            out = model(x)
            model.train(was_training)
        # The outputs of the net still in memory, before any reload: the command compares with them.
        with atomic_path(Path(run_dir) / TRAINED_OUTPUTS) as tmp:
            save_file(
                {"x": x.cpu().contiguous(), "y": y.cpu().contiguous(), "out": out.cpu().contiguous()},
                str(tmp),
            )
        activity = unit_activity(model, x)
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 4))
        draw_panel(ax, x.cpu(), y.cpu(), out.cpu(), "trained net", activity["dead"])
        return [save_figure(fig, Path(run_dir) / FIGURE)]


def draw_panel(ax: Any, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor, title: str, dead: bool) -> None:
    ax.scatter(x[:, 0].numpy(), y[:, 0].numpy(), s=10)
    ax.plot(x[:, 0].numpy(), out[:, 0].numpy(), "r-", lw=4)
    if dead:
        ax.text(
            0.5,
            0.72,
            "DEAD NET:\nevery ReLU is off,\nthe output is a constant",
            color="darkred",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=11,
            bbox={"facecolor": "white", "alpha": 0.8},
        )
    ax.set_title(title)


# -- the command -------------------------------------------------------------------------------
def reload_three_ways(run_dir: Path, device: str = "cpu") -> dict[str, Any]:
    """The trained net's recorded outputs, and those of the net reloaded from the pickle and from
    the parameters (safetensors into a freshly built net), with load times and identity checks.
    """
    from safetensors.torch import load_file

    from zoo_core import get_model, read_json

    run_dir = Path(run_dir)
    recorded = load_file(str(run_dir / TRAINED_OUTPUTS))
    x = recorded["x"].to(device)
    config = read_json(run_dir / "config.json")["config"]

    start = time.perf_counter()
    # Trusted on purpose: this command wrote model.pt moments ago. Never unpickle files from elsewhere.
    net2 = load_pickle(run_dir / PICKLE, trust=True, device=device)
    pickle_ms = (time.perf_counter() - start) * 1000

    start = time.perf_counter()
    net3 = get_model(config["model"]).create(**config["model_params"])  # rebuild the architecture ...
    load_weights(net3, run_dir / WEIGHTS, device=device)  # ... then its parameters
    params_ms = (time.perf_counter() - start) * 1000

    with torch.no_grad():
        outs = {"pickle": net2.to(device).eval()(x).cpu(), "params": net3.to(device).eval()(x).cpu()}
    return {
        "x": recorded["x"],
        "y": recorded["y"],
        "trained": recorded["out"],
        "pickle": outs["pickle"],
        "params": outs["params"],
        "identical": {k: bool(torch.equal(v, recorded["out"])) for k, v in outs.items()},
        "load_ms": {"pickle": pickle_ms, "params": params_ms},
        "pickle_globals": pickle_globals(run_dir / PICKLE),
        "dead": unit_activity(net3, x)["dead"],
        "net3": net3,
    }


def three_panels(result: dict[str, Any], path: Path) -> Path:
    """The lesson's figure: trained net, net from the whole-model pickle, net from the parameters."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    titles = {
        "trained": "Net1: trained (in memory)",
        "pickle": "Net2: whole model (model.pt)",
        "params": "Net3: parameters (model.safetensors)",
    }
    for ax, (key, title) in zip(axes, titles.items(), strict=True):
        draw_panel(ax, result["x"], result["y"], result[key], title, result["dead"])
    return save_figure(fig, path)


def run(out: str | None, seed: int, steps: int, device: str, echo: Any = print) -> dict[str, Any]:
    """``zoo save-reload``: train through the shared loop (safetensors and pickle), reload, compare."""
    import zoo_core

    result = zoo_core.train(
        "save-reload", steps=steps, seed=seed, out=out, device=device, save_format="both", quiet=True
    )
    run_dir = result.run_dir
    echo(
        f"trained save-reload (1-10-1 ReLU, SGD lr {result.config.loop.lr}, {result.step} steps, "
        f"seed {seed}) in {result.seconds:.2f}s on {result.device}: "
        f"MSE {result.metrics['eval_loss']:.4f}{' (DEAD NET: constant output)' if result.metrics.get('dead') else ''}"
        f" -> {run_dir}"
    )
    reload_device = str(result.device)
    reloaded = reload_three_ways(run_dir, device=reload_device)
    echo(
        "loaded model.pt with trust: this command wrote it moments ago (a pickle can run any code; "
        "never load one from a source you do not trust)"
    )
    figure = three_panels(reloaded, Path(run_dir) / PANELS)
    rows = [
        ["Net1: trained net", "(in memory)", "-", "reference"],
        [
            "Net2: whole-model pickle",
            PICKLE,
            f"{reloaded['load_ms']['pickle']:.2f}",
            "bit-identical" if reloaded["identical"]["pickle"] else "DIFFERENT",
        ],
        [
            "Net3: parameters",
            WEIGHTS,
            f"{reloaded['load_ms']['params']:.2f}",
            "bit-identical" if reloaded["identical"]["params"] else "DIFFERENT",
        ],
    ]
    echo("")
    echo(table(rows, ["NET", "LOADED FROM", "LOAD ms", "PREDICTIONS vs Net1"]))
    echo("")
    echo(formats_table(compare_formats(run_dir)))
    echo(
        "(save/load: median of 7 in a temporary folder; model.pt would import "
        f"{', '.join(reloaded['pickle_globals']) or 'nothing'})"
    )
    if reloaded["dead"] or result.metrics.get("dead"):
        echo("")
        echo(
            f"WARNING: dead net: with lr {result.config.loop.lr} every hidden ReLU switched off "
            f"for seed {seed} (active units: {int(result.metrics.get('active_units', 0))}), so the net "
            "predicts one constant; its reloads are identical, but this is not a fit. "
            "Try another --seed or a smaller lr (zoo train save-reload --set lr=0.2)."
        )
    echo(f"figure: {figure}")
    return {
        "run_dir": run_dir,
        "metrics": result.metrics,
        "identical": reloaded["identical"],
        "dead": bool(reloaded["dead"]),
        "figure": figure,
    }
