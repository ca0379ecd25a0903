"""Weights you can share: a run as a Hugging Face model-repo folder, pushed and fetched with ``hf://``.

The folder holds ``model.safetensors`` (the weights with zoo's metadata, so ``zoo_core.load_model``
rebuilds the model from it alone), ``config.json`` (the same facts, readable without safetensors)
and a generated ``README.md`` model card. Uploading and downloading need the optional
``huggingface_hub`` package (``pip install 'zoo[hub]'``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from zoo_core import atomic, checkpoint
from zoo_core.errors import ZooError, first_line
from zoo_core.runs import CONFIG, find_run

SCHEME = "hf://"
CARD = "README.md"
FILES = (checkpoint.WEIGHTS, CONFIG, CARD)
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
HUB_EXTRA = "pip install 'zoo[hub]'"


def weights_of(run: str | Path) -> Path:
    """The safetensors weights of a run folder, model name, hub folder, ``.safetensors`` or ``hf://`` repo.

    Their tensors are checked against the model their metadata names before anything is built.
    """
    text = str(run)
    path = download(text) if text.startswith(SCHEME) else find_run(run)
    if path.is_dir():
        weights = path / checkpoint.WEIGHTS
        if not weights.is_file():
            pickle = (path / checkpoint.PICKLE).exists()
            extra = f" (only the pickle {checkpoint.PICKLE}, which is never loaded here)" if pickle else ""
            raise ZooError(f"{path}: no {checkpoint.WEIGHTS}{extra}; weights are read from safetensors only")
    elif path.suffix != ".safetensors":
        raise ZooError(
            f"{path}: expected a run folder, a hub folder or a .safetensors file; weights are read from "
            "safetensors only"
        )
    else:
        weights = path
    check_shapes(weights)
    return weights


def check_shapes(weights: Path) -> None:
    """Refuse weights that do not fit the model their metadata describes, before it is built for real.

    The metadata is untrusted: settings such as ``n_hidden=10**12`` would allocate the memory of
    a model far larger than the file. The model is built on PyTorch's ``meta`` device (shapes
    only, no memory) and compared with the file's tensors first.
    """
    import torch

    from zoo_core.plugins import get_zoo

    meta = checkpoint.read_metadata(weights)
    _, shapes = checkpoint.read_header(weights)
    name, config = meta.get("zoo.model"), meta.get("zoo.config")
    if not isinstance(name, str) or not isinstance(config, dict):
        return  # not zoo's: loading it says so
    params = config.get("model_params", {})
    if not isinstance(params, dict):
        raise ZooError(f"{weights}: zoo.config's model_params is not a mapping of settings")
    entry = get_zoo().models.get(name)
    try:
        with torch.device("meta"):
            model = entry.create(**params)
    except ZooError:
        raise
    except Exception:  # a factory that cannot build on the meta device: the load checks shapes after
        return
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    wrong = [
        f"{k} {shapes[k]} vs {expected[k]}" for k in expected if k in shapes and shapes[k] != expected[k]
    ]
    if wrong or (expected and not set(expected) & set(shapes)):
        detail = "; ".join(wrong) if wrong else f"none of its {len(expected)} tensors is in the file"
        raise ZooError(
            f"{weights}: its settings describe a model its tensors do not fit (file vs model: {detail}); "
            "nothing was built"
        )


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise ZooError(f"the Hugging Face Hub needs the hub extra: {HUB_EXTRA}") from None
    return huggingface_hub


def repo_id_of(text: str) -> tuple[str, str | None]:
    """``org/name`` and an optional revision from ``hf://org/name[@revision]`` or ``org/name``."""
    repo, _, revision = text.removeprefix(SCHEME).partition("@")
    if not _REPO_ID.match(repo) or ".." in repo:
        raise ZooError(f"{text!r}: expected a Hugging Face repo id like hf://org/name (letters, digits, -_.)")
    return repo, revision or None


def download(uri: str) -> Path:
    """The local folder of an ``hf://org/name`` model repo (the hub client's cache; offline it stays there)."""
    hub = _hub()
    repo, revision = repo_id_of(uri)
    try:
        folder = hub.snapshot_download(repo, revision=revision, allow_patterns=list(FILES))
    except Exception as exc:  # the client raises many types: network, auth, missing repo, offline miss
        raise ZooError(f"{uri}: cannot fetch it from the Hugging Face Hub ({first_line(exc)})") from exc
    return Path(folder)


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
    from zoo_core.predict import load_trained

    if out is None:
        out = Path("hub") if str(run).startswith(SCHEME) else weights_of(run).parent / "hub"
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(p.name not in FILES for p in out.iterdir())):
        raise ZooError(
            f"{out}: exists and holds other files; give a new or empty folder (or an earlier hub export)"
        )
    weights, entry, model = load_trained(run)
    meta = checkpoint.read_metadata(weights)
    config = hub_config(meta)
    out.mkdir(parents=True, exist_ok=True)
    shared = {k: v for k, v in meta.items() if k.startswith("zoo.") and k != "zoo.format"}
    shared["zoo.config"] = config["config"]  # without the local data_root
    checkpoint.save_weights(model, out / checkpoint.WEIGHTS, shared)
    atomic.write_json(out / CONFIG, config)
    card = model_card(config, entry.version, entry.summary, entry.lesson, repo_id)
    atomic.write_text(out / CARD, card)
    return out


def push(run: str | Path, repo_id: str, *, private: bool = False) -> str:
    """Upload a run's hub folder to ``repo_id`` (created when missing); the URL of the repo."""
    import tempfile

    hub = _hub()
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
