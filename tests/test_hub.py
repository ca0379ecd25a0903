"""Shareable weights: ``zoo export --format hub`` writes a model-repo folder that zoo loads back,
``hf://org/name`` is read from the Hugging Face client's cache (offline here), ``zoo push`` uploads
the same folder (the client is replaced by a recorder: no network in tests).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo_core
from zoo_core.cli import cli

X = torch.tensor([[0.5], [-0.25]])


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub-run")
    return zoo_core.train("regression", steps=10, out=root / "run", device="cpu", quiet=True).run_dir


def outputs(path) -> torch.Tensor:
    with torch.no_grad():
        return zoo_core.load_model(path)(X)


def test_hub_folder_round_trip(run, tmp_path):
    folder = tmp_path / "shared"
    result = invoke("export", run, "--format", "hub", "--out", folder)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["library_name"] == "zoo" and config["model"] == "regression:regression"
    assert config["model_params"] == {"activation": "relu", "n_feature": 1, "n_hidden": 10, "n_output": 1}
    assert config["config"]["data_root"] is None and config["step"] == 10
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: zoo\n") and "# regression:regression" in card
    assert f"| eval_loss | {config['metrics']['eval_loss']:.6g} |" in card
    assert 'zoo_core.load_model("hf://ORG/NAME")' in card
    # the folder alone rebuilds the same model, evaluates and predicts like the run
    assert torch.equal(outputs(folder), outputs(run))
    evaluated = json.loads(invoke("eval", folder, "--device", "cpu", "--json").output)
    original = json.loads(invoke("eval", run, "--device", "cpu", "--json").output)
    assert evaluated["metrics"] == original["metrics"]
    assert invoke("predict", folder, "0.5").output == invoke("predict", run, "0.5").output


def test_hub_export_defaults_into_the_run_and_refuses_foreign_folders(run, tmp_path):
    result = invoke("export", run, "--format", "hub")
    assert result.exit_code == 0, result.output
    assert (run / "hub" / "model.safetensors").is_file()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = invoke("export", run, "--format", "hub", "--out", tmp_path / "busy")
    assert result.exit_code == 2 and "exists and holds other files" in result.output
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]


def _cache(root: Path, repo: str, folder: Path) -> Path:
    """What the Hugging Face client leaves after downloading ``repo``: refs/main and a snapshot."""
    commit = "0" * 40
    cached = root / f"models--{repo.replace('/', '--')}"
    (cached / "refs").mkdir(parents=True)
    (cached / "refs" / "main").write_text(commit)
    shutil.copytree(folder, cached / "snapshots" / commit)
    return root


def test_hf_uri_loads_from_the_offline_cache(run, tmp_path):
    folder = tmp_path / "shared"
    assert invoke("export", run, "--format", "hub", "--out", folder).exit_code == 0
    cache = _cache(tmp_path / "hf-cache", "zoo-org/regression", folder)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    code = (
        "import torch, zoo_core\n"
        "m = zoo_core.load_model('hf://zoo-org/regression')\n"
        "print(m(torch.tensor([[0.5], [-0.25]])).flatten().tolist())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == outputs(run).flatten().tolist()
    zoo = str(Path(sys.executable).parent / "zoo")
    proc = subprocess.run(
        [zoo, "eval", "hf://zoo-org/missing", "--device", "cpu"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "zoo: error: hf://zoo-org/missing: cannot fetch it from the Hugging Face Hub ("
    )
    assert proc.stderr.count("\n") == 1


def test_push_uploads_the_hub_folder(run, monkeypatch):
    import huggingface_hub

    calls = []

    class Recorder:
        def create_repo(self, repo_id, private, exist_ok):
            calls.append(("create", repo_id, private))
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, repo_id, folder_path, commit_message):
            files = sorted(p.name for p in Path(folder_path).iterdir())
            card = (Path(folder_path) / "README.md").read_text()
            calls.append(("upload", repo_id, files, "hf://zoo-org/line" in card))

    monkeypatch.setattr(huggingface_hub, "HfApi", Recorder)
    result = invoke("push", run, "zoo-org/line", "--private")
    assert result.exit_code == 0, result.output
    assert calls == [
        ("create", "zoo-org/line", True),
        ("upload", "zoo-org/line", ["README.md", "config.json", "model.safetensors"], True),
    ]
    assert "load it: zoo eval hf://zoo-org/line" in result.output


@pytest.mark.parametrize("args", [["push", "RUN", "zoo-org/line"], ["eval", "hf://zoo-org/line"]])
def test_hub_without_the_extra_says_what_to_install(run, monkeypatch, args):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    result = invoke(*[run if a == "RUN" else a for a in args])
    assert result.exit_code == 2
    assert result.output == "zoo: error: the Hugging Face Hub needs the hub extra: pip install 'zoo[hub]'\n"


@pytest.mark.parametrize("uri", ["hf://no-slash", "hf://a/b/c", "hf://../x"])
def test_bad_repo_ids_are_one_line(uri):
    result = invoke("eval", uri)
    assert result.exit_code == 2 and "expected a Hugging Face repo id like hf://org/name" in result.output


GOOD_REVISIONS = ["main", "v1.0", "feature/x", "refs/pr/1", "refs/convert/parquet", "a" * 40, "0" * 40]
BAD_REVISIONS = [
    "../../models--org--evil/refs/main",
    "..",
    "a/../b",
    "/etc/passwd",
    ".hidden",
    "a/.b",
    "main.lock",
    "a//b",
    "a/",
    "main.",
    "a b",
    "a\tb",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[0]",
    "a\\b",
    "@",
    "a@{1}",
    "",
    "x" * 256,
]


@pytest.mark.parametrize("revision", GOOD_REVISIONS)
def test_revisions_the_hub_has_are_passed_on(revision):
    from zoo_core.serve.trained import repo_id_of

    assert repo_id_of(f"hf://zoo-org/line@{revision}") == ("zoo-org/line", revision)


@pytest.mark.parametrize("revision", BAD_REVISIONS)
def test_a_revision_that_is_no_git_ref_is_one_line_and_never_reaches_the_client(revision, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    calls = []
    monkeypatch.setattr(hub, "snapshot_download", lambda *a, **k: calls.append((a, k)))
    result = invoke("eval", f"hf://zoo-org/line@{revision}")
    assert result.exit_code == 2, result.output
    assert "is not a revision; give a branch, a tag or a commit hash" in result.output
    assert len(result.output.strip().splitlines()) == 1 and calls == []


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.characters(codec="utf-8"), max_size=40) | st.from_regex(r"[a-z./@{}~]{1,12}", fullmatch=True)
)
def test_an_accepted_revision_never_leaves_the_repos_refs_folder(revision):
    from zoo_core.serve.trained import valid_revision

    if valid_revision(revision):
        refs = "/cache/models--org--name/refs"
        assert os.path.normpath(os.path.join(refs, revision)).startswith(refs + "/")
        assert "\x00" not in revision and "\\" not in revision


def test_weights_whose_settings_do_not_fit_are_refused_before_building(run, tmp_path):
    """Untrusted metadata asking for a model of 10**11 parameters: refused on shapes, nothing allocated."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(run / "model.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
    config = json.loads(meta["zoo.config"])
    config["model_params"]["n_hidden"] = 10**11
    forged = tmp_path / "model.safetensors"
    save_file(
        load_file(str(run / "model.safetensors")), str(forged), {**meta, "zoo.config": json.dumps(config)}
    )
    result = invoke("predict", forged, "0.5")
    assert result.exit_code == 2
    assert "weights do not fit the model; shape mismatch (file vs model):" in result.output
    assert "hidden.weight (10, 1) vs (100000000000, 1)" in result.output
    assert "nothing was built" in result.output


@pytest.mark.parametrize(
    "failure, fix",
    [
        (
            ConnectionError("[Errno -2] Name or service not known"),
            "the Hugging Face Hub cannot be reached: check",
        ),
        (
            type("HTTPError", (Exception,), {"response": type("R", (), {"status_code": 401})()})("401"),
            "log in with 'hf auth login'",
        ),
    ],
)
def test_a_failed_push_points_to_the_network_or_the_login(run, monkeypatch, failure, fix):
    import huggingface_hub

    class Failing:
        def create_repo(self, repo_id, private, exist_ok):
            raise failure

    monkeypatch.setattr(huggingface_hub, "HfApi", Failing)
    result = invoke("push", run, "zoo-org/line")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output.startswith(f"zoo: error: cannot upload to zoo-org/line ({failure}); {fix}")
    if isinstance(failure, ConnectionError):
        assert "hf auth login" not in result.output
