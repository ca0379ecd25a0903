"""The shared trainer: run folders, seeding, interruption and resume, saving and loading."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

import zoo_core
from zoo_core import ZooError
from zoo_core.store.checkpoint import load_weights, read_metadata
from zoo_core.training.loop import Interrupted, train_model

pytestmark = pytest.mark.numerics  # every test here trains and compares what training computed


def _weights(run_dir):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "model.safetensors"))


def test_run_folder_holds_everything_to_repeat_and_rebuild(toy_zoo, tmp_path):
    result = train_model("toy", out=tmp_path / "run", device="cpu")
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {
        "config.json",
        "metrics.csv",
        "model.safetensors",
        "state.safetensors",
        "loss.png",
        "summary.json",
    } <= files
    assert "model.pt" not in files  # pickle only on request
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["config"]["model"] == "toy:toy"
    assert config["config"]["loop"]["steps"] == 30 and config["config"]["loop"]["batch_size"] == 16
    assert config["environment"]["torch"] == torch.__version__
    assert config["plugin"]["name"] == "toy"
    lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,epoch,loss") and len(lines) == 31
    meta = read_metadata(tmp_path / "run")
    assert meta["zoo.model"] == "toy:toy" and meta["zoo.metrics"]["eval_mse"] == result.metrics["eval_mse"]
    assert result.history[-1]["loss"] < result.history[0]["loss"] / 3  # it learned


def test_model_is_rebuilt_from_the_safetensors_file_alone(toy_zoo, tmp_path):
    train_model("toy", out=tmp_path / "run", device="cpu", sets=["hidden=5"])
    model = zoo_core.load_model(tmp_path / "run" / "model.safetensors")
    assert model[0].out_features == 5  # the hyperparameters came from the file's metadata
    x = torch.linspace(-1, 1, 7).unsqueeze(1)
    ref = zoo_core.create_model("toy", hidden=5)
    load_weights(ref, tmp_path / "run")
    assert torch.equal(model(x), ref.eval()(x))


def test_same_seed_gives_bit_identical_weights(toy_zoo, tmp_path):
    train_model("toy", out=tmp_path / "a", device="cpu", seed=7)
    train_model("toy", out=tmp_path / "b", device="cpu", seed=7)
    train_model("toy", out=tmp_path / "c", device="cpu", seed=8)
    a, b, c = (_weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_ctrl_c_saves_state_and_resume_is_bit_identical(toy_zoo, tmp_path):
    def press_ctrl_c(step):
        if step == 13:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(
        Interrupted, match=r"interrupted at step 13/30.*resume with: zoo train toy:toy --resume"
    ) as info:
        train_model("toy", out=tmp_path / "cut", device="cpu", seed=3, on_step=press_ctrl_c)
    assert info.value.exit_code == 130
    assert read_metadata(tmp_path / "cut")["zoo.step"] == 13
    resumed = train_model(resume=tmp_path / "cut", device="cpu")
    assert resumed.step == 30
    train_model("toy", out=tmp_path / "whole", device="cpu", seed=3)
    cut, whole = _weights(tmp_path / "cut"), _weights(tmp_path / "whole")
    assert all(torch.equal(cut[k], whole[k]) for k in whole)
    assert [r["step"] for r in resumed.history] == list(range(1, 31))


def test_resume_refuses_a_run_of_another_model(make_zoo, tmp_path):
    from tests.conftest import Toy

    class Other:
        @zoo_core.hookimpl
        def register_models(registry):
            registry.add(
                "other",
                factory="tests.conftest:toy_net",
                dataset="toy:line",
                optimizer="toy:sgd",
                trainer="toy:mse",
            )

    make_zoo(Toy, Other)
    train_model("toy", out=tmp_path / "run", device="cpu")
    with pytest.raises(ZooError, match=r"that run trained 'toy:toy', not 'other:other'"):
        train_model("other", resume=tmp_path / "run")


def test_existing_run_folder_is_never_overwritten(toy_zoo, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "precious.txt").write_text("keep me")
    with pytest.raises(ZooError, match="already exists and is not empty"):
        train_model("toy", out=tmp_path / "run", device="cpu")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["precious.txt"]


def test_unwritable_out_is_refused_before_training(toy_zoo, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ZooError, match="cannot write the run folder"):
        train_model("toy", out=tmp_path / "file" / "run", device="cpu")


def test_default_run_folders_are_unique(toy_zoo, tmp_path):
    a = train_model("toy", device="cpu", steps=2)
    b = train_model("toy", device="cpu", steps=2)
    assert a.run_dir != b.run_dir and a.run_dir.parent == b.run_dir.parent
    assert a.run_dir.parent.parent == tmp_path / "runs"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps must be a positive whole number"),
        ({"epochs": -1}, "epochs must be a positive whole number"),
        ({"batch_size": 0}, "batch_size must be a positive whole number"),
        ({"sets": ["hiden=3"]}, r"unknown setting; did you mean 'hidden'\? \(valid keys: .*hidden"),
        ({"sets": ["zzz=3"]}, "unknown setting; valid keys: .*hidden"),
        ({"sets": ["hidden=three"]}, r"--set hidden=three: expected a whole number"),
        ({"sets": ["hidden"]}, "expected KEY=VALUE"),
        ({"sets": ["nosuch.x=1"]}, "unknown section 'nosuch'"),
        ({"optimizer": "sgdd"}, "unknown optimizer 'sgdd'; did you mean 'sgd'"),
        ({"save_format": "zip"}, "--save-format 'zip'"),
        ({"epochs": 1, "steps": 1}, "either --epochs or --steps"),
        ({"device": "tpu"}, "is not a device"),
    ],
)
def test_bad_input_is_one_clear_error_and_writes_nothing(toy_zoo, tmp_path, kwargs, message):
    with pytest.raises(ZooError, match=message):
        train_model("toy", out=tmp_path / "run", **{"device": "cpu", **kwargs})
    assert not (tmp_path / "run" / "model.safetensors").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_an_error_not_a_silent_cpu_run(toy_zoo, tmp_path):
    with pytest.raises(ZooError, match="--device cuda: no CUDA device is available"):
        train_model("toy", out=tmp_path / "run", device="cuda")


def test_set_values_are_typed_by_their_defaults(toy_zoo, tmp_path):
    result = train_model(
        "toy",
        out=tmp_path / "run",
        device="cpu",
        sets=["activation=relu", "slope=-1.5", "momentum=0.5", "weight=2", "shuffle=false", "loop.steps=4"],
    )
    c = result.config
    assert c.model_params == {"hidden": 8, "activation": "relu"}
    assert c.dataset_params["slope"] == -1.5 and c.optimizer_params["momentum"] == 0.5
    assert c.trainer_params["weight"] == 2.0 and isinstance(c.trainer_params["weight"], float)
    assert c.loop.shuffle is False and result.step == 4


def test_epochs_count_batches_and_drop_last(toy_zoo, tmp_path):
    assert train_model("toy", out=tmp_path / "a", device="cpu", epochs=2, batch_size=10).step == 14
    r = train_model("toy", out=tmp_path / "b", device="cpu", epochs=2, batch_size=10, sets=["drop_last=true"])
    assert r.step == 12


def test_pickle_needs_trust_and_gives_the_same_model(toy_zoo, tmp_path):
    from zoo_core.store.checkpoint import load_pickle

    train_model("toy", out=tmp_path / "run", device="cpu", save_format="both")
    with pytest.raises(
        ZooError, match=r"model.pt is a pickle: loading it can run arbitrary code.*--trust-pickle"
    ):
        load_pickle(tmp_path / "run" / "model.pt", trust=False)
    whole = load_pickle(tmp_path / "run" / "model.pt", trust=True)
    rebuilt = zoo_core.load_model(tmp_path / "run")
    x = torch.randn(5, 1)
    assert torch.equal(whole.eval()(x), rebuilt(x))


def test_damaged_or_foreign_weights_are_clear_errors(toy_zoo, tmp_path):
    from safetensors.torch import save_file

    train_model("toy", out=tmp_path / "run", device="cpu")
    weights = tmp_path / "run" / "model.safetensors"
    data = weights.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ZooError, match="not a readable safetensors file.*truncated or corrupt"):
        zoo_core.load_model(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ZooError, match="not a readable safetensors file"):
        zoo_core.load_model(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(ZooError, match="has no zoo metadata"):
        zoo_core.load_model(tmp_path / "foreign.safetensors")
    small = zoo_core.create_model("toy", hidden=4)
    with pytest.raises(ZooError, match=r"shape mismatch \(file vs model\): .*0.weight \(8, 1\) vs \(4, 1\)"):
        load_weights(small, weights)
    deeper = torch.nn.Sequential(*zoo_core.create_model("toy"), torch.nn.Linear(1, 1))
    with pytest.raises(ZooError, match=r"missing: 3.bias, 3.weight"):
        load_weights(deeper, weights)


def test_eval_rebuilds_and_measures_again(toy_zoo, tmp_path):
    from zoo_core.serve.evaluation import evaluate_run

    result = train_model("toy", out=tmp_path / "run", device="cpu")
    again = evaluate_run(tmp_path / "run", device="cpu")
    assert again["metrics"]["eval_mse"] == pytest.approx(result.metrics["eval_mse"], abs=1e-7)
    with pytest.raises(ZooError, match="is a pickle"):
        train_model("toy", out=tmp_path / "p", device="cpu", save_format="pickle")
        evaluate_run(tmp_path / "p", device="cpu")
    assert evaluate_run(tmp_path / "p", device="cpu", trust_pickle=True)["metrics"]["eval_mse"] >= 0


def test_a_run_that_fails_before_training_leaves_no_folder(make_zoo, tmp_path):
    from tests.conftest import Toy

    class Broken:
        @zoo_core.hookimpl
        def register_trainers(registry):
            def refuse(**_):
                raise ZooError("this trainer refuses its settings")

            registry.add("refuses", factory=refuse)

    make_zoo(Toy, Broken)
    with pytest.raises(ZooError, match="refuses its settings"):
        train_model("toy", trainer="refuses", device="cpu")
    assert not list((tmp_path / "runs").rglob("*.json"))
    assert not (tmp_path / "runs" / "toy").exists() or not any((tmp_path / "runs" / "toy").iterdir())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ZooError):
        train_model("toy", trainer="refuses", device="cpu", out=tmp_path / "empty")
    assert (tmp_path / "empty").is_dir() and not any(
        (tmp_path / "empty").iterdir()
    )  # the user's folder stays


class Tied(torch.nn.Module):
    """An encoder and a decoder sharing one weight matrix (as language models tie embeddings)."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.encode = torch.nn.Linear(1, width, bias=False)
        self.decode = torch.nn.Linear(1, width, bias=False)
        self.decode.weight = self.encode.weight  # one tensor under two names, used both ways

    def forward(self, x):
        return torch.nn.functional.linear(torch.tanh(self.encode(x)), self.encode.weight.t())


def test_tied_weights_survive_the_safetensors_round_trip(make_zoo, tmp_path):
    from tests.conftest import Toy

    class TiedPlugin:
        @zoo_core.hookimpl
        def register_models(registry):
            registry.add(
                "tied",
                factory=Tied,
                defaults={"width": 4},
                dataset="toy:line",
                optimizer="toy:sgd",
                trainer="toy:mse",
                recipe={"lr": 0.1, "steps": 5},
            )

    make_zoo(Toy, TiedPlugin)
    train_model("tied", out=tmp_path / "run", device="cpu")
    model = zoo_core.load_model(tmp_path / "run")
    assert model.decode.weight is model.encode.weight  # still one tensor after loading
    x = torch.linspace(-1, 1, 5).unsqueeze(1)
    trained = train_model("tied", out=tmp_path / "again", device="cpu").model.eval()
    assert torch.equal(model(x), trained(x))


def test_without_matplotlib_the_run_finishes_and_says_figures_were_skipped(toy_zoo, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    said = []
    from zoo_core.training.loop import draw_figures

    assert draw_figures(None, None, None, "cpu", [], tmp_path, "toy", said.append) == []
    assert said == ["figures skipped: matplotlib is not installed (pip install matplotlib)"]
    result = train_model("toy", out=tmp_path / "run", device="cpu")
    assert (tmp_path / "run" / "summary.json").exists() and not (tmp_path / "run" / "loss.png").exists()
    assert "loss.png" not in result.files


def test_the_python_api_takes_settings_as_keywords_and_says_what_it_cannot_train(make_zoo, tmp_path):
    from tests.conftest import Toy, toy_line

    class Wide:  # a dataset that also has a "hidden" setting: the name is ambiguous
        @zoo_core.hookimpl
        def register_datasets(registry):
            registry.add(
                "wide-line", factory=lambda n=64, hidden=1: toy_line(n), defaults={"n": 64, "hidden": 1}
            )

    make_zoo(Toy, Wide)
    result = zoo_core.train(
        "toy", hidden=4, activation="relu", momentum=0.5, steps=3, device="cpu", out=tmp_path / "a"
    )
    config = result.config
    assert (
        config.model_params == {"hidden": 4, "activation": "relu"}
        and config.optimizer_params["momentum"] == 0.5
    )
    assert config.loop.steps == 3
    text = repr(result)
    assert text.startswith(
        f"RunResult(run_dir='{tmp_path / 'a'}', model='toy:toy', step=3, metrics={{'loss': "
    )
    assert "\n" not in text and len(text) < 300 and "history" not in text
    with pytest.raises(ZooError, match="'hidden' is a setting of several parts; write one of model.hidden"):
        zoo_core.train("toy", dataset="wide-line", hidden=4, steps=1, device="cpu", out=tmp_path / "b")
    with pytest.raises(ZooError, match=r"takes a registered model's name .* not a torch\.nn\..*Linear"):
        zoo_core.train(torch.nn.Linear(1, 1))
    assert not (tmp_path / "b").exists()


class _Lookup(torch.nn.Module):
    """A plugin's model with a bug in its forward: an embedding index out of range."""

    def __init__(self) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(2, 1)

    def forward(self, x):
        return self.table(torch.full((len(x),), 5))


class _BrokenLoss(zoo_core.Trainer):
    def loss(self, model, batch):
        return {"loss": model(batch[0]).mean() + {}["missing"]}

    def evaluate(self, model, data, device):
        return {}


class _Buggy:
    @zoo_core.hookimpl
    def register_models(registry):
        registry.add("lookup", factory=_Lookup, dataset="line", optimizer="sgd", trainer="mse")
        registry.add(
            "fine", factory=lambda: torch.nn.Linear(1, 1), dataset="line", optimizer="sgd", trainer="broken"
        )

    @zoo_core.hookimpl
    def register_trainers(registry):
        registry.add("broken", factory=_BrokenLoss)


def test_an_error_in_a_plugins_code_names_the_plugin_entry_and_phase(make_zoo, tmp_path):
    from click.testing import CliRunner

    from tests.conftest import Toy
    from zoo_core.cli import cli

    make_zoo(Toy, _Buggy)
    result = CliRunner().invoke(cli, ["train", "lookup", "--steps", "2", "--out", str(tmp_path / "a"), "-q"])
    assert result.exit_code == 2, result.output
    assert result.output == (
        "zoo: error: model '_buggy:lookup' failed in forward at step 1: IndexError: index out of range in self "
        "(--debug shows the traceback)\n"
    )
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["status"] == "failed"
    result = CliRunner().invoke(cli, ["train", "fine", "--steps", "2", "--out", str(tmp_path / "b")])
    assert (
        result.exit_code == 2
        and "trainer '_buggy:broken' failed in loss at step 1: KeyError: 'missing'" in result.output
    )


class _Sized:
    """The toy model on data that imply its width, with a trainer that checks the first batch."""

    @zoo_core.hookimpl
    def register_models(registry):
        from tests.conftest import toy_net

        registry.add(
            "sized",
            factory=toy_net,
            summary="toy net sized by its data",
            tags=["test"],
            defaults={"hidden": 8, "activation": "tanh"},
            dataset="wide",
            optimizer="sgd",
            trainer="checked",
            recipe={"lr": 0.05, "steps": 3},
        )

    @zoo_core.hookimpl
    def register_datasets(registry):
        def wide(hidden: int = 5, seed: int = 0):
            from tests.conftest import toy_line

            data = toy_line(seed=seed)
            data.implies = {"hidden": hidden, "channels": 3}  # channels: not a setting of this model
            return data

        registry.add("wide", factory=wide, summary="a line implying a width", defaults={"hidden": 5})

    @zoo_core.hookimpl
    def register_optimizers(registry):
        registry.add("sgd", factory="torch.optim:SGD", summary="SGD")

    @zoo_core.hookimpl
    def register_trainers(registry):
        from tests.conftest import ToyStep

        class Checked(ToyStep):
            def check(self, model, batch):
                calls.append(tuple(batch[0].shape))
                if model[0].out_features > 6:
                    raise ZooError(f"width {model[0].out_features} is more than the data allow")

        registry.add("checked", factory=Checked, summary="checks the width", defaults={"weight": 1.0})


calls: list[tuple[int, ...]] = []


def test_data_imply_model_settings_unless_given(make_zoo, tmp_path):
    make_zoo(_Sized)
    calls.clear()
    result = train_model("sized", out=tmp_path / "a", device="cpu")
    assert result.config.model_params["hidden"] == 5 and result.config.implied == {"hidden": 5}
    assert calls == [(64, 1)]  # checked once, on the first (full) batch
    assert zoo_core.load_model(tmp_path / "a")[0].out_features == 5
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    repeat = train_model(config_file=tmp_path / "a" / "config.json", out=tmp_path / "b", device="cpu")
    assert repeat.config.given == [] and repeat.config.implied == {"hidden": 5}
    assert saved["config"]["given"] == []
    given = train_model("sized", sets=["model.hidden=4"], out=tmp_path / "c", device="cpu")
    assert given.config.model_params["hidden"] == 4 and given.config.implied == {}
    with pytest.raises(ZooError, match="width 7 is more than the data allow"):
        train_model("sized", sets=["model.hidden=7"], out=tmp_path / "d", device="cpu")
    assert not (tmp_path / "d").exists()
    wider = train_model("sized", sets=["dataset.hidden=6"], out=tmp_path / "e", device="cpu")
    assert wider.config.model_params["hidden"] == 6
