"""Weights you can share: a run as a Hugging Face model-repo folder, pushed and fetched with ``hf://``.

The folder holds ``model.safetensors`` (the weights with zoo's metadata, so ``zoo_core.load_model``
rebuilds the model from it alone), ``config.json`` (the same facts, readable without safetensors)
and a generated ``README.md`` model card. Uploading and downloading need the optional
``huggingface_hub`` package (``pip install 'zoo[hub]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.plugin import atomic
from zoo_core.plugin.errors import ZooError, first_line
from zoo_core.serve.trained import CARD, FILES, SCHEME, hub_client, open_run, repo_id_of, weights_of
from zoo_core.store import checkpoint
from zoo_core.store.runs import CONFIG


# -- the folder ------------------------------------------------------------------------------------
def hub_config(meta: dict[str, Any]) -> dict[str, Any]:
    """``config.json`` of a hub folder: what zoo needs to rebuild the model, and where it came from."""
    config = dict(meta.get("zoo.config") or {})
    config["data_root"] = None  # a local path of the machine that trained it
    return {
        "library_name": "zoo",
        "zoo_format": checkpoint.FORMAT_VERSION,
        "model": meta.get("zoo.model"),
        "plugin": meta.get("zoo.plugin"),
        "model_params": config.get("model_params", {}),
        "config": config,
        "metrics": meta.get("zoo.metrics", {}),
        "step": meta.get("zoo.step"),
        "versions": meta.get("zoo.versions", {}),
    }


def model_card(
    config: dict[str, Any], plugin_version: str, summary: str, lesson: str, repo_id: str = "ORG/NAME"
) -> str:
    """The README.md of a hub folder: what the model is, how it was trained, how to load it."""
    run = config["config"]
    loop = run.get("loop", {})
    length = f"{loop['steps']} steps" if loop.get("steps") else f"{loop.get('epochs') or 1} epoch(s)"
    metrics = config["metrics"] or {}
    lines = [
        "---",
        "library_name: zoo",
        "tags:",
        "- zoo",
        "- pytorch",
        f"- {config['model'].rpartition(':')[2]}",
        "---",
        "",
        f"# {config['model']}",
        "",
        summary + (f" (lesson {lesson})" if lesson else ""),
        "",
        f"- plugin: `{config['plugin']}` {plugin_version}".rstrip(),
        f"- model settings: `{_compact(config['model_params'])}`",
        f"- recipe: dataset `{run.get('dataset')}` {_compact(run.get('dataset_params', {}))}, "
        f"optimizer `{run.get('optimizer')}`, trainer `{run.get('trainer')}`, lr {loop.get('lr')}, "
        f"batch size {loop.get('batch_size') or 'full'}, {length}, seed {loop.get('seed')}",
        f"- trained with zoo {config['versions'].get('zoo', '?')}, torch {config['versions'].get('torch', '?')}",
        "",
        "## Metrics",
        "",
    ]
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [
            f"| {k} | {v:.6g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()
        ]
    else:
        lines.append("none recorded")
    lines += [
        "",
        "## Use it",
        "",
        "The weights are `model.safetensors` (no pickle); zoo rebuilds the model from the metadata in it.",
        "With zoo and the plugin installed (`pip install 'zoo[hub]'`):",
        "",
        "```bash",
        f"zoo eval hf://{repo_id}",
        f"zoo predict hf://{repo_id} INPUT...",
        "```",
        "",
        "```python",
        "import zoo_core",
        "",
        f'model = zoo_core.load_model("hf://{repo_id}")',
        "```",
        "",
    ]
    return "\n".join(lines)


def _compact(data: Any) -> str:
    import json

    return json.dumps(data, separators=(", ", ": "), default=str)


def write_folder(run: str | Path, out: str | Path | None = None, repo_id: str = "ORG/NAME") -> Path:
    """Write a run as a model-repo folder: ``model.safetensors``, ``config.json`` and ``README.md``.

    ``out`` defaults to ``hub/`` in the run folder (in the current folder for an ``hf://`` source).
    """
    if out is None:
        out = Path("hub") if str(run).startswith(SCHEME) else weights_of(run).parent / "hub"
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(p.name not in FILES for p in out.iterdir())):
        raise ZooError(
            f"{out}: exists and holds other files; give a new or empty folder (or an earlier hub export)"
        )
    trained = open_run(run)
    meta, entry = trained.meta, trained.entry
    config = hub_config(meta)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"--out {out}: cannot create the folder ({exc.strerror or first_line(exc)})") from exc
    shared = {k: v for k, v in meta.items() if k.startswith("zoo.") and k != "zoo.format"}
    shared["zoo.config"] = config["config"]  # without the local data_root
    checkpoint.save_weights(trained.model, out / checkpoint.WEIGHTS, shared)
    atomic.write_json(out / CONFIG, config)
    card = model_card(config, entry.version, entry.summary, entry.lesson, repo_id)
    atomic.write_text(out / CARD, card)
    return out


def push(run: str | Path, repo_id: str, *, private: bool = False) -> str:
    """Upload a run's hub folder to ``repo_id`` (created when missing); the URL of the repo."""
    import tempfile

    hub = hub_client()
    repo, _ = repo_id_of(repo_id)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(run, Path(tmp) / "model", repo_id=repo)
        try:
            api = hub.HfApi()
            url = api.create_repo(repo, private=private, exist_ok=True)
            api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="Upload zoo model")
        except Exception as exc:
            raise ZooError(f"cannot upload to {repo} ({first_line(exc)}); {_upload_fix(exc)}") from exc
    return str(url)


def _upload_fix(exc: BaseException) -> str:
    """What to do about a failed upload: the network, the login, or the repo, by what failed."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    status = next((getattr(getattr(e, "response", None), "status_code", None) for e in chain), None)
    names = " ".join(type(e).__name__ for e in chain)
    if status in (401, 403) or "Token" in names:
        return "log in with 'hf auth login' (or set HF_TOKEN) with write access to it"
    if any(isinstance(e, (ConnectionError, TimeoutError)) for e in chain) or any(
        word in names for word in ("Connect", "Timeout", "Offline", "NameResolution")
    ):
        return "the Hugging Face Hub cannot be reached: check the network (and that HF_HUB_OFFLINE is unset), then push again"
    return "check the repo id, and your login with 'hf auth whoami'"
