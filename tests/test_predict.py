"""``zoo predict``'s fallback for any model (tensor files in, JSON out) and the ``predictor`` field."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

import zoo_core
from zoo_core.cli import cli
from zoo_core.plugin.errors import PluginError
from zoo_core.plugin.predictor import Option, Predictor
from zoo_core.plugin.registry import Registry
from zoo_core.serve.predict import predict, split_options
from zoo_core.training.loop import train_model

X = [[0.5], [-0.25], [1.0]]


@pytest.fixture
def toy_run(toy_zoo, tmp_path):
    return train_model("toy", out=tmp_path / "run", device="cpu", quiet=True).run_dir


def _expected(run):
    with torch.no_grad():
        return zoo_core.load_model(run)(torch.tensor(X))


@pytest.mark.parametrize("kind", ["npy", "json", "safetensors"])
def test_any_model_reads_tensor_files_and_answers_json(toy_run, tmp_path, kind):
    path = tmp_path / f"x.{kind}"
    if kind == "npy":
        np.save(path, np.array(X, dtype=np.float64))
    elif kind == "json":
        path.write_text(json.dumps(X))
    else:
        save_file({"x": torch.tensor(X)}, str(path))
    result = CliRunner().invoke(cli, ["predict", str(toy_run), str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "toy:toy"
    (record,) = data["predictions"]
    torch.testing.assert_close(torch.tensor(record["output"]), _expected(toy_run))


def test_several_files_are_one_batch(toy_run, tmp_path):
    for i, row in enumerate(X):
        (tmp_path / f"{i}.json").write_text(json.dumps([row]))
    files = [str(tmp_path / f"{i}.json") for i in range(3)]
    result = CliRunner().invoke(cli, ["predict", str(toy_run), *files])
    assert result.exit_code == 0, result.output
    torch.testing.assert_close(torch.tensor(json.loads(result.output)["output"]), _expected(toy_run))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.txt", "1", "expected a tensor file (.npy, .safetensors, .json)"),
        ("x.json", "[[1], [2, 3]]", "expected a nested list of numbers with equal lengths"),
        ("x.json", "{", "not valid JSON"),
        (
            "x.json",
            "[[1, 2]]",
            "the model cannot take an input of shape (1, 2) float32 (mat1 and mat2 shapes cannot be multiplied",
        ),
        ("x.json", "[[NaN]]", "holds NaN or infinite values"),
        ("missing.npy", None, "no such file"),
    ],
)
def test_bad_tensor_files_are_one_line(toy_run, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result = CliRunner().invoke(cli, ["predict", str(toy_run), str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_a_safetensors_input_must_hold_one_tensor(toy_run, tmp_path):
    save_file({"a": torch.zeros(1, 1), "b": torch.zeros(1, 1)}, str(tmp_path / "two.safetensors"))
    result = CliRunner().invoke(cli, ["predict", str(toy_run), str(tmp_path / "two.safetensors")])
    assert result.exit_code == 2 and "expected exactly one tensor, found 2 (a, b)" in result.output


def test_a_pickle_is_never_read(toy_zoo, tmp_path):
    train_model("toy", out=tmp_path / "run", device="cpu", quiet=True, save_format="pickle")
    result = CliRunner().invoke(cli, ["predict", str(tmp_path / "run"), "x.npy"])
    assert result.exit_code == 2
    assert "no model.safetensors (only the pickle model.pt, which is never loaded here)" in result.output


def test_predictor_field_is_lazy_listed_and_validated():
    registry = Registry("model")
    entry = registry.add("m", factory="torch.nn:Linear", predictor="zoo_core.serve.predict:Predictor")
    assert entry.predictor == "zoo_core.serve.predict:Predictor"  # a string until used
    assert entry.to_dict()["predictor"] == "zoo_core.serve.predict:Predictor"
    assert entry.load_predictor() is Predictor
    assert registry.add("n", factory="torch.nn:Linear").load_predictor() is None
    with pytest.raises(PluginError, match="needs a callable predictor or a 'module:attr' string"):
        registry.add("bad", factory="torch.nn:Linear", predictor="not a path")
    with pytest.raises(PluginError, match="only apply to models"):
        Registry("dataset").add("d", factory=dict, predictor="zoo_core.serve.predict:Predictor")
    broken = registry.add("broken", factory="torch.nn:Linear", predictor="zoo_core.serve.predict:Nope")
    with pytest.raises(zoo_core.ZooError, match="cannot load predictor 'zoo_core.serve.predict:Nope'"):
        broken.load_predictor()


class Sweep(Predictor):
    """A predictor with options of every type, taking its inputs one at a time."""

    one_at_a_time = True
    options = {
        "scale": Option(1.0, "Multiplies the outputs.", min=0.0),
        "repeat": Option(1, "Rows per input.", min=1, max=3),
        "label": Option("y", "Name of the output."),
        "round": Option(False, "Round the outputs."),
        "top_k": Option(5, "Takes --top-k."),
    }

    def start(self, model, options):
        super().start(model, options)
        self.seen = []

    def read(self, model, args):
        self.seen.append(list(args))
        return (torch.tensor([[float(args[0])]] * self.settings.values["repeat"]),)

    def show(self, args, batch, outputs, options):
        values = options.values
        out = outputs * values["scale"]
        out = out.round() if values["round"] else out
        return [{values["label"]: out.flatten().tolist(), "device": options.device, "k": values["top_k"]}]


def test_predictor_options_are_typed_and_inputs_come_one_at_a_time(toy_run, monkeypatch):
    sweep = Sweep()
    monkeypatch.setattr("zoo_core.serve.predict.predictor_of", lambda entry: sweep)
    plain = predict(toy_run, ["0.5", "1"])
    assert sweep.seen == [["0.5"], ["1"]]  # one input per read
    assert [list(r) for r in plain.records] == [["y", "device", "k"]] * 2
    assert plain.records[0]["k"] == 5 and plain.records[0]["device"] == "cpu"
    chosen = predict(
        toy_run, ["0.5"], top_k=2, options={"scale": "2", "repeat": 3, "label": "z", "round": "true"}
    )
    (record,) = chosen.records
    assert len(record["z"]) == 3 and record["k"] == 2  # --top-k reaches an option named top_k
    expected = (_expected(toy_run)[0] * 2).round()
    assert record["z"][0] == pytest.approx(float(expected[0]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"repeat": 4}, "--repeat: must be at least 1 and at most 3, got 4"),
        ({"repeat": "1.5"}, "--repeat: expected a whole number"),
        ({"scale": "nan"}, "--scale: expected a finite number"),
        ({"round": "maybe"}, "--round: expected true or false"),
        ({"colour": "red"}, "no such option: --colour .*--scale, --repeat, --label, --round, --top-k"),
    ],
)
def test_a_bad_predictor_option_is_one_line(toy_run, monkeypatch, options, message):
    monkeypatch.setattr("zoo_core.serve.predict.predictor_of", lambda entry: Sweep())
    with pytest.raises(zoo_core.ZooError, match=message):
        predict(toy_run, ["0.5"], options=options)


def test_options_split_from_inputs_on_the_command_line():
    assert split_options(["a", "--max-new-tokens", "5", "b", "--seed=1", "-0.5"]) == (
        ["a", "b", "-0.5"],
        {"max_new_tokens": "5", "seed": "1"},
    )
    with pytest.raises(zoo_core.ZooError, match="option --seed needs a value"):
        split_options(["a", "--seed"])
