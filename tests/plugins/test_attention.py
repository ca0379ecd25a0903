"""Lesson 601 attention: char-gpt, its data sized from the text, its check, and generation."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli
from zoo_plugins.attention.data import read_text, tiny_shakespeare
from zoo_plugins.attention.gpt import SHAKESPEARE, CharGPT

TEXT = "To be, or not to be, that is the question.\nWhether 'tis nobler in the mind to suffer\n" * 12
SMALL = ["n_layer=1", "n_head=2", "n_embd=16"]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "hamlet.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def small_run(text_file, tmp_path):
    """A char-gpt trained 30 steps on the small text: its vocabulary is the text's, not Shakespeare's."""
    return zoo_core.train(
        "char-gpt",
        sets=[f"path={text_file}", "block_size=16", "warmup_steps=5", *SMALL],
        steps=30,
        lr=0.01,
        device="cpu",
        out=tmp_path / "run",
    )


def test_the_recipe_is_nanogpts_cpu_recipe_at_three_times_its_rate():
    entry = zoo_core.get_model("char-gpt")
    assert {k: entry.defaults[k] for k in ("n_layer", "n_head", "n_embd", "dropout", "bias")} == {
        "n_layer": 4,
        "n_head": 4,
        "n_embd": 128,
        "dropout": 0.0,
        "bias": False,
    }
    assert entry.defaults["vocab"] == SHAKESPEARE and entry.defaults["vocab_size"] == len(SHAKESPEARE)
    recipe = entry.recipe
    assert (recipe["lr"], recipe["steps"], recipe["batch_size"], recipe["grad_clip"]) == (3e-3, 2000, 12, 1.0)
    assert recipe["dataset"] == {"block_size": 64}
    assert recipe["optimizer"] == {"betas": (0.9, 0.99), "weight_decay": 0.1}
    assert entry.scheduler == "cosine" and recipe["scheduler"] == {"warmup_steps": 100, "min_factor": 0.1}


def test_the_shipped_text_is_tiny_shakespeare():
    text = read_text()
    assert len(text) == 1_115_394 and text.startswith("First Citizen:\n")
    assert "".join(sorted(set(text))) == SHAKESPEARE


def test_the_dataset_cuts_windows_and_implies_the_vocabulary(text_file):
    data = tiny_shakespeare(block_size=8, path=str(text_file), split=0.9)
    vocab = "".join(sorted(set(TEXT)))
    assert data.implies == {"vocab_size": len(vocab), "vocab": vocab, "n_positions": 8}
    x, y = data.train.tensors
    cut = int(len(TEXT) * 0.9)
    assert x.shape == (cut - 8, 8) and torch.equal(x[:, 1:], y[:, :-1])  # targets: the next character
    assert "".join(vocab[i] for i in x[5].tolist()) == TEXT[5:13]
    held_x, held_y = data.eval.tensors
    assert held_x.shape == ((len(TEXT) - cut - 1) // 8, 8)
    assert "".join(vocab[i] for i in held_x.flatten().tolist()) == TEXT[cut : cut + held_x.numel()]
    assert "".join(vocab[i] for i in held_y[0].tolist()) == TEXT[cut + 1 : cut + 9]


@pytest.mark.parametrize(
    ("content", "settings", "message"),
    [
        (None, {}, "no such file"),
        (b"\xff\xfe\x00bad", {}, "not a readable UTF-8 text file"),
        (b"short", {}, "too short"),
        (TEXT.encode(), {"split": 1.5}, "split must be between 0 and 1"),
        (TEXT.encode(), {"block_size": 0}, "block_size must be at least 1"),
    ],
)
def test_a_text_it_cannot_use_is_one_line(tmp_path, content, settings, message):
    path = tmp_path / "text.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(zoo_core.ZooError, match=message):
        tiny_shakespeare(path=str(path), **settings)


def test_the_model_is_causal_with_a_tied_head():
    torch.manual_seed(0)
    model = CharGPT(n_layer=2, n_head=2, n_embd=16, n_positions=8).eval()
    assert model.head.weight is model.tok.weight
    idx = torch.randint(0, 65, (3, 8))
    scores = model(idx)
    assert scores.shape == (3, 8, 65)
    changed = idx.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 65
    later = model(changed)
    torch.testing.assert_close(later[:, :5], scores[:, :5])  # the past never sees the future
    assert not torch.allclose(later[:, 5:], scores[:, 5:])
    with pytest.raises(zoo_core.ZooError, match="vocab has 3 characters but vocab_size is 65"):
        CharGPT(vocab="abc")
    with pytest.raises(zoo_core.ZooError, match="multiple of n_head"):
        CharGPT(n_embd=10, n_head=4)


def test_a_run_is_sized_by_its_text_and_rebuilt_without_it(small_run, text_file):
    vocab = "".join(sorted(set(TEXT)))
    config = json.loads((small_run.run_dir / "config.json").read_text())["config"]
    assert config["implied"] == {"vocab_size": len(vocab), "vocab": vocab, "n_positions": 16}
    assert config["model_params"]["vocab_size"] == len(vocab)
    losses = [row["loss"] for row in small_run.history]
    assert losses[-1] < losses[0]
    assert small_run.metrics["eval_loss"] < 3.0  # chance: log(len(vocab)) = 3.2 nats per character
    text_file.unlink()  # the saved run needs its data no more
    model = zoo_core.load_model(small_run.run_dir)
    assert model.tok.num_embeddings == len(vocab) and model.vocab == vocab and model.n_positions == 16


def test_predict_generates_with_its_options(small_run):
    run = str(small_run.run_dir)
    args = ["predict", run, "To be", "the", "--max-new-tokens", "25", "--temperature", "0.5"]
    first = CliRunner().invoke(cli, [*args, "--top-k", "5", "--seed", "1", "--json"])
    assert first.exit_code == 0, first.output
    records = json.loads(first.output)["predictions"]
    assert [r["prompt"] for r in records] == ["To be", "the"]  # prompts one at a time
    assert all(len(r["text"]) == 25 and set(r["text"]) <= set(TEXT) for r in records)
    again = CliRunner().invoke(cli, [*args, "--top-k=5", "--seed=1", "--json"])
    assert json.loads(again.output)["predictions"] == records  # one seed, one text
    plain = CliRunner().invoke(cli, ["predict", run, "To be", "--max-new-tokens", "5"])
    assert plain.exit_code == 0 and plain.output.startswith("To be") and len(plain.output) == len("To be") + 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Zebra"], "the prompt has characters the model never saw: 'Z'"),
        (["To", "--temperature", "0"], "--temperature: must be at least 0.001"),
        (["To", "--max-new-tokens", "two"], "--max-new-tokens: expected a whole number"),
        (["To", "--beam", "3"], "no such option: --beam"),
    ],
)
def test_bad_prompts_and_options_are_one_line(small_run, args, message):
    result = CliRunner().invoke(cli, ["predict", str(small_run.run_dir), *args])
    assert result.exit_code == 2
    assert result.output.startswith("zoo: error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_predict_help_lists_the_predictors_options(small_run):
    result = CliRunner().invoke(cli, ["predict", str(small_run.run_dir), "--help"])
    assert result.exit_code == 0, result.output
    for flag in ("--max-new-tokens", "--temperature", "--top-k", "--seed"):
        assert f"  {flag} " in result.output.split("Its predictor's options:")[1]


def test_a_context_longer_than_the_model_is_refused_before_step_1(text_file, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(zoo_core.ZooError, match="windows are 16 characters but the model has 8 positions"):
        zoo_core.train(
            "char-gpt",
            sets=[f"path={text_file}", "block_size=16", "n_positions=8", "warmup_steps=1", *SMALL],
            steps=2,
            device="cpu",
            out=out,
        )
    assert not out.exists()  # nothing half-written


def test_zoo_eval_checks_the_first_batch_too(small_run, monkeypatch):
    from zoo_plugins.attention.train import CharLM

    seen = []
    monkeypatch.setattr(CharLM, "check", lambda self, model, batch: seen.append(batch[0].shape))
    result = CliRunner().invoke(cli, ["eval", str(small_run.run_dir)])
    assert result.exit_code == 0, result.output
    assert len(seen) == 1 and seen[0][1] == 16
