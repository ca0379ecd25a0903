"""Opening a trained run: the one way eval, predict, export, hub folders and compare-formats read one.

``open_run`` finds the weights (a run folder, a model's latest run, a hub folder, a ``.safetensors``
file or an ``hf://`` repo), rebuilds the model from safetensors alone (its shapes checked on the
``meta`` device first) and hands back a :class:`Trained`. ``hf://`` repos are fetched here too, with
the optional ``huggingface_hub`` package.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from zoo_core.plugin.errors import ZooError, first_line
from zoo_core.store import checkpoint
from zoo_core.store.runs import CONFIG, find_run

if TYPE_CHECKING:
    import torch

    from zoo_core.config.runconfig import RunConfig
    from zoo_core.plugin.registry import Entry

SCHEME = "hf://"
CARD = "README.md"
#: the files of a hub folder, the only ones fetched from a repo
FILES = (checkpoint.WEIGHTS, CONFIG, CARD)
HUB_EXTRA = "pip install 'zoo[hub]'"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


@attrs.frozen
class Trained:
    """A trained model, opened: its weights file and metadata, model entry, config and the model."""

    weights: Path
    meta: dict[str, Any]
    entry: Entry
    config: RunConfig
    model: torch.nn.Module

    def example(self) -> Any:
        """The first evaluation inputs of the run's dataset, run once through the model.

        Raises ``ZooError`` naming why when there is none (the dataset cannot be built here, or the
        model takes something else than its dataset's inputs).
        """
        import torch

        from zoo_core.training.assembly import build_parts

        config = attrs.evolve(self.config, data_root=None)  # a path read from a file is never used
        try:
            data = build_parts(config, torch.device("cpu"), model=self.model).data
        except ZooError as exc:
            raise ZooError(f"its dataset cannot be built here ({exc})") from exc
        if not hasattr(data.evaluation, "tensors"):
            raise ZooError(f"its dataset '{config.dataset}' is not a TensorDataset of inputs")
        sample = data.evaluation[0:8][0]
        try:
            with torch.no_grad():
                self.model(sample)
        except Exception as exc:  # a plugin's model that takes other inputs: say so, never hide it
            raise ZooError(
                f"model '{self.entry.qualname}' does not take its dataset's inputs "
                f"({type(exc).__name__}: {first_line(exc)})"
            ) from exc
        return sample


def open_run(run: str | Path, device: str = "cpu", *, model: str | None = None) -> Trained:
    """The trained model of ``run`` (see the module), rebuilt from safetensors: never a pickle.

    With ``model`` (a model's name), a run of another model is refused before anything is built.
    """
    from zoo_core.config.runconfig import RunConfig
    from zoo_core.plugin.discovery import get_zoo

    weights = weights_of(run)
    if model is not None:
        entry = get_zoo().models.get(model)
        saved = str(checkpoint.read_metadata(weights).get("zoo.model", ""))
        if saved.rpartition(":")[2] != entry.name or (":" in saved and saved != entry.qualname):
            where = weights.parent if weights.name == checkpoint.WEIGHTS else weights
            raise ZooError(f"{where} holds a '{saved or 'unknown'}' model, not '{entry.qualname}'")
    model = checkpoint.load_model(weights, device=device)  # checks the metadata, then the shapes on meta
    meta = checkpoint.read_metadata(weights)
    config = RunConfig.from_dict(meta["zoo.config"], f"{weights} (metadata zoo.config)")
    return Trained(weights, meta, get_zoo().models.get(config.model), config, model)


def weights_of(run: str | Path) -> Path:
    """The safetensors weights of a run folder, model name, hub folder, ``.safetensors`` or ``hf://`` repo."""
    text = str(run)
    path = download(text) if text.startswith(SCHEME) else find_run(run)
    if path.is_dir():
        weights = path / checkpoint.WEIGHTS
        if not weights.is_file():
            pickle = (path / checkpoint.PICKLE).exists()
            extra = f" (only the pickle {checkpoint.PICKLE}, which is never loaded here)" if pickle else ""
            raise ZooError(f"{path}: no {checkpoint.WEIGHTS}{extra}; weights are read from safetensors only")
        return weights
    if path.suffix != ".safetensors":
        raise ZooError(
            f"{path}: expected a run folder, a hub folder or a .safetensors file; weights are read from "
            "safetensors only"
        )
    return path


# -- hf:// -----------------------------------------------------------------------------------------
def hub_client() -> Any:
    """The ``huggingface_hub`` module, or one line saying how to install it."""
    try:
        import huggingface_hub
    except ImportError:
        raise ZooError(f"the Hugging Face Hub needs the hub extra: {HUB_EXTRA}") from None
    return huggingface_hub


def repo_id_of(text: str) -> tuple[str, str | None]:
    """``org/name`` and an optional revision from ``hf://org/name[@revision]`` or ``org/name``."""
    repo, at, revision = text.removeprefix(SCHEME).partition("@")
    if not _REPO_ID.match(repo) or ".." in repo:
        raise ZooError(f"{text!r}: expected a Hugging Face repo id like hf://org/name (letters, digits, -_.)")
    if at and not valid_revision(revision):
        raise ZooError(
            f"{text!r}: {revision!r} is not a revision; give a branch, a tag or a commit hash "
            "(git's rules for ref names: no '..', no component starting with '.', no spaces or ~^:?*[\\)"
        )
    return repo, revision or None


_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def valid_revision(revision: str) -> bool:
    """Whether ``revision`` is a git ref name (``git check-ref-format --allow-onelevel``), as the Hub's
    branches, tags, ``refs/pr/N`` and commit hashes are. The hub client uses it as a path in its cache
    (``refs/REVISION``): anything else could read outside the repo's folder."""
    if not revision or len(revision.encode("utf-8", "surrogateescape")) > 255 or revision == "@":
        return False
    if _REF_FORBIDDEN.search(revision) or revision.startswith("/") or revision.endswith(("/", ".")):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in revision.split("/"))


def download(uri: str) -> Path:
    """The local folder of an ``hf://org/name`` model repo (the hub client's cache; offline it stays there)."""
    hub = hub_client()
    repo, revision = repo_id_of(uri)
    try:
        folder = hub.snapshot_download(repo, revision=revision, allow_patterns=list(FILES))
    except Exception as exc:  # the client raises many types: network, auth, missing repo, offline miss
        raise ZooError(f"{uri}: cannot fetch it from the Hugging Face Hub ({first_line(exc)})") from exc
    return Path(folder)
