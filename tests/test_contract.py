"""``zoo check`` and the plugin authors' fixtures: the contract passes on zoo's own plugins and each
broken promise is one clear FAIL line."""

from __future__ import annotations

import json
import re
import struct
import textwrap

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.author.contract import run_checks
from zoo_core.cli import cli
from zoo_core.plugin.discovery import Zoo
from zoo_core.plugin.errors import PluginError

STEPS = "12"


def check(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["check", *args, "--steps", STEPS], prog_name="zoo")
    return result.exit_code, result.output.splitlines()


def lines_with(lines: list[str], status: str) -> list[str]:
    return [line for line in lines if line.startswith(status)]


# -- zoo's own plugins keep the contract ---------------------------------------------------------------
@pytest.mark.parametrize("plugin", ["regression", "classification", "quick-build"])
def test_builtin_plugins_pass(zoo_plugin_zoo, plugin):
    zoo_plugin_zoo(plugin)
    code, lines = check(plugin)
    assert code == 0, "\n".join(lines)
    assert not lines_with(lines, "FAIL")
    for check_name in ("metadata", "builds", "batch", "round trip", "trains", "reloads"):
        assert any(f"  {check_name}: " in line for line in lines_with(lines, "PASS")), check_name
    assert any("listing: " in line and "without importing torch" in line for line in lines)
    assert lines[-1].endswith("0 failed, 0 skipped")


def write_tiny_mnist(root, n_train=120, n_test=40):
    """MNIST's four IDX files with learnable 'digits' (class k lights a bar at row 2k)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            images[i, 2 * k + 3 : 2 * k + 6, 4:24] = 250
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">iiii", 2051, n, 28, 28) + images.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 2049, n) + labels.tobytes())
    return root


#: checked by their own tests: the vision plugin's 20 architectures take minutes, dqn needs gymnasium
CHECKED_APART = {"vision", "dqn"}


def test_every_builtin_lesson_keeps_the_contract(tmp_path):
    """The whole contract on each built-in plugin, as 'zoo check' runs it: MNIST on a small real-format
    file set; a lesson's recipe (a warm-up longer than the check's run, say) must not break it."""
    from importlib import metadata

    from zoo_core.plugin.discovery import ENTRY_POINT_GROUP

    names = sorted(
        ep.name
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.value.startswith("zoo_plugins.") and ep.name not in CHECKED_APART
    )
    assert {"attention", "cnn", "gan", "standard"} <= set(names)
    root = write_tiny_mnist(tmp_path / "data")
    code, lines = check(*names, "--data-root", str(root))
    assert not lines_with(lines, "FAIL"), "\n".join(lines_with(lines, "FAIL"))
    skips = lines_with(lines, "SKIP")
    assert all("none is named 'loss' or 'loss_*'" in line for line in skips), "\n".join(skips)  # GANs
    assert code == 0 and any("model attention:char-gpt" in line and "  trains: " in line for line in lines)


def test_dataset_that_needs_files_is_skipped_without_them(zoo_plugin_zoo, monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA_ROOT", str(tmp_path / "empty"))
    zoo_plugin_zoo("cnn")
    code, lines = check("cnn")
    assert code == 0, "\n".join(lines)
    (skip,) = lines_with(lines, "SKIP")
    assert "model cnn:cnn" in skip
    assert "dataset 'mnist' needs files that are missing here; pass --data-root DIR" in skip
    assert not (tmp_path / "empty").exists() or not any((tmp_path / "empty").rglob("*.gz"))  # no download


def test_dataset_that_needs_files_is_checked_with_data_root(zoo_plugin_zoo, tmp_path):
    root = write_tiny_mnist(tmp_path / "data")
    zoo_plugin_zoo("cnn")
    code, lines = check("cnn", "--data-root", str(root))
    assert code == 0, "\n".join(lines)
    assert not lines_with(lines, "SKIP") and not lines_with(lines, "FAIL")
    assert any("trains: 12 CPU steps move the weights and lower the loss" in line for line in lines)


def test_single_entry_and_json(zoo_plugin_zoo):
    zoo_plugin_zoo("regression")
    result = CliRunner().invoke(cli, ["check", "standard:quadratic", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and data["failed"] == 0
    assert {o["subject"] for o in data["outcomes"]} == {"dataset standard:quadratic"}


def test_unknown_target_is_a_one_line_error(zoo_plugin_zoo):
    zoo_plugin_zoo("regression")
    result = CliRunner().invoke(cli, ["check", "no-such-thing"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "zoo: error: no plugin or entry named 'no-such-thing' (see 'zoo plugins' and 'zoo list')"
    ]


# -- broken promises: one FAIL line each, exit status 1 ------------------------------------------------
class ForgetfulStep(zoo_core.Trainer):
    """A manual step whose ``opt.step()`` was deleted: it computes, never learns."""

    manual = True

    def step(self, model, batch, opt):
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        opt.backward(loss)
        return {"loss": loss.detach()}


#: a Linear(1, 1) model on the quadratic, trained by zoo's own parts
LINE = {
    "factory": "torch.nn:Linear",
    "summary": "a line",
    "tags": ["test"],
    "defaults": {"in_features": 1, "out_features": 1},
    "dataset": "quadratic",
    "optimizer": "sgd",
    "trainer": "supervised",
    "recipe": {"lr": 0.1},
}


def _plugin(model_kwargs: dict):
    """A plugin object registering model 'bad' with the given fields over sensible defaults."""

    class Bad:
        @zoo_core.hookimpl
        def register_trainers(self, registry):
            registry.add("forgetful-step", factory=ForgetfulStep, summary="forgets to step", tags=["test"])

        @zoo_core.hookimpl
        def register_models(self, registry):
            registry.add("bad", **{**LINE, "summary": "a bad model", **model_kwargs})

    return Bad()


class Forgetful:
    """Keeps a random projection as a plain attribute: lost when the weights are saved."""

    def __new__(cls, **kwargs):
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = torch.randn(1, 4)  # neither a parameter nor a buffer
                self.out = torch.nn.Linear(4, 1)

            def forward(self, x):
                return self.out(x @ self.proj)

        return Net()


class Stuck:
    """Its output does not depend on its weights, so no step can lower the loss."""

    def __new__(cls, **kwargs):
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))

            def forward(self, x):
                return x * 0 + self.w * 0

        return Net()


@pytest.mark.parametrize(
    ("fields", "check_name", "message"),
    [
        ({"summary": "", "tags": []}, "metadata", "no summary; neither a lesson nor tags"),
        (
            {"defaults": {"in_features": 1, "out_features": 1, "dtype": object}},
            "metadata",
            "defaults are not JSON",
        ),
        ({"dataset": "nowhere"}, "metadata", "unknown dataset 'nowhere'"),
        ({"recipe": {"lr": 0.1, "speed": 3}}, "metadata", "recipe has unknown keys ['speed']"),
        ({"factory": dict, "defaults": {}}, "builds", "the factory returned dict, not a torch.nn.Module"),
        ({"factory": Forgetful, "defaults": {}}, "round trip", "identical weights but different outputs"),
        ({"factory": Stuck, "defaults": {}}, "trains", "12 CPU steps left the weights unchanged"),
        ({"recipe": {"lr": 1e-5}}, "trains", "loss did not go down in 12 CPU steps on a fixed batch"),
        ({"trainer": "forgetful-step"}, "trains", "left the weights unchanged: the step never updates them"),
    ],
)
def test_broken_model_fails_one_check(zoo_plugin_zoo, fields, check_name, message):
    zoo_plugin_zoo(_plugin(fields))
    code, lines = check("bad")
    assert code == 1, "\n".join(lines)
    (fail,) = lines_with(lines, "FAIL")
    assert fail.startswith("FAIL  model bad:bad")
    assert f"  {check_name}: " in fail and message in fail, fail


def test_plugin_that_failed_to_load_fails(make_zoo):
    class Crashing:
        @zoo_core.hookimpl
        def register_datasets(self, registry):
            raise RuntimeError("no data today")

    make_zoo(Crashing())
    result = CliRunner().invoke(cli, ["check", "crashing"])
    assert result.exit_code == 1
    assert "FAIL  plugin crashing  loads: Crashing: failed: RuntimeError: no data today" in result.output


def write_module(tmp_path, monkeypatch, name: str, source: str) -> None:
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))


def test_plugin_importing_torch_when_listed_fails(zoo_plugin_zoo, tmp_path, monkeypatch):
    write_module(
        tmp_path,
        monkeypatch,
        "zoo_heavy",
        """
        import torch  # the mistake: listing the plugin now imports torch
        from zoo_core import hookimpl

        @hookimpl
        def register_trainers(registry):
            registry.add("heavy", factory="zoo_plugins.standard.supervised:Supervised", summary="s", tags=["t"])
        """,
    )
    zoo_plugin_zoo("zoo_heavy")
    code, lines = check("zoo_heavy")
    assert code == 1
    (fail,) = lines_with(lines, "FAIL")
    assert re.match(
        r"FAIL  plugin zoo_heavy +listing: loading the plugin and listing its entries imports torch", fail
    )
    assert "zoo_heavy/__init__.py:2" in fail


def test_lazy_module_plugin_lists_without_torch(zoo_plugin_zoo, tmp_path, monkeypatch):
    write_module(
        tmp_path,
        monkeypatch,
        "zoo_light",
        """
        from zoo_core import hookimpl

        @hookimpl
        def register_trainers(registry):
            registry.add("light", factory="zoo_plugins.standard.supervised:Supervised", summary="s", tags=["t"])
        """,
    )
    zoo_plugin_zoo("zoo_light")
    code, lines = check("zoo_light")
    assert code == 0, "\n".join(lines)
    assert any(
        re.fullmatch(r"PASS  plugin zoo_light +listing: its 1 entries list without importing torch", x)
        for x in lines
    )


def test_objects_cannot_be_listed_in_a_new_process(zoo_plugin_zoo):
    zoo_plugin_zoo(_plugin({}))
    code, lines = check("bad")
    assert code == 0, "\n".join(lines)
    assert any(line.startswith("SKIP  plugin bad") and "listing" in line for line in lines)


# -- the fixtures ----------------------------------------------------------------------------------------
def test_zoo_plugin_zoo_holds_the_plugin_and_zoo_only(zoo_plugin_zoo):
    zoo = zoo_plugin_zoo(_plugin({}))
    assert zoo_core.get_zoo() is zoo
    assert zoo.plugins["bad"].status == "loaded"
    distributions = {p.distribution for name, p in zoo.plugins.items() if name != "bad"}
    assert distributions == {"zoo"}
    assert "supervised" in zoo.trainers


def test_zoo_plugin_zoo_without_builtins(zoo_plugin_zoo):
    zoo = zoo_plugin_zoo("regression", builtins=False)
    assert list(zoo.plugins) == ["regression"]


def test_zoo_plugin_zoo_unknown_plugin_fails_the_test(zoo_plugin_zoo):
    with pytest.raises(pytest.fail.Exception, match="no plugin 'zoo_nope'.*pip install -e"):
        zoo_plugin_zoo("zoo_nope")


def test_an_isolated_zoo_raises_for_a_failing_plugin():
    class Crashing:
        @zoo_core.hookimpl
        def register_models(self, registry):
            raise RuntimeError("boom")

    with pytest.raises(PluginError, match="plugin 'crashing' failed: RuntimeError: boom"):
        Zoo.isolated(Crashing(), builtins=False)


def test_zoo_check_fixture_passes_and_reports(zoo_check):
    report = zoo_check("regression", steps=10)
    assert report.ok and report.count("PASS") >= 8
    assert "0 failed" in report.summary()


def test_zoo_check_fixture_fails_the_test_with_the_report(zoo_check):
    with pytest.raises(pytest.fail.Exception) as failed:
        zoo_check(_plugin({"summary": ""}), steps=4)
    assert "zoo check bad:" in str(failed.value)
    assert "FAIL  model bad:bad" in str(failed.value) and "no summary" in str(failed.value)


def test_run_checks_needs_two_steps(zoo_plugin_zoo):
    zoo_plugin_zoo("regression", builtins=False)
    with pytest.raises(zoo_core.ZooError, match="at least 2"):
        run_checks(["regression"], steps=1)


# -- optimizers must descend, hooks must be marked and keep their parameter names ------------------------
def _optimizer_plugin(factory, **fields):
    class Opts:
        @zoo_core.hookimpl
        def register_optimizers(self, registry):
            registry.add("odd", factory=factory, summary="an optimizer", tags=["test"], **fields)

    return Opts()


def climbing_sgd(params, lr):
    """SGD with its sign flipped: every step climbs the gradient."""
    return _Climb(params, lr)


class _Climb:
    def __new__(cls, params, lr):
        import torch

        class Climb(torch.optim.Optimizer):
            def __init__(self, params, lr):
                super().__init__(params, {"lr": lr})

            @torch.no_grad()
            def step(self, closure=None):
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is not None:
                            p.add_(p.grad, alpha=group["lr"])  # the planted mistake: + instead of -

        return Climb(params, lr)


def frozen_sgd(params, lr):
    import torch

    return torch.optim.SGD(params, lr=0.0)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (climbing_sgd, "10 steps at lr=0.01 on a linear regression (a convex problem) raise its loss"),
        (frozen_sgd, "10 steps at lr=0.01 left the weights unchanged"),
    ],
)
def test_optimizer_that_does_not_descend_fails(zoo_plugin_zoo, factory, message):
    zoo_plugin_zoo(_optimizer_plugin(factory))
    code, lines = check("opts:odd")
    assert code == 1, "\n".join(lines)
    (fail,) = lines_with(lines, "FAIL")
    assert fail.startswith("FAIL  optimizer opts:odd") and "descends: " in fail and message in fail, fail


def test_every_builtin_optimizer_descends(zoo_plugin_zoo):
    zoo_plugin_zoo("standard")
    code, lines = check("standard")
    descends = [line for line in lines_with(lines, "PASS") if "descends: " in line]
    assert code == 0 and len(descends) == 5, "\n".join(lines)


def test_unmarked_hook_fails_the_check_and_warns_on_load(zoo_plugin_zoo, tmp_path, monkeypatch, capsys):
    write_module(
        tmp_path,
        monkeypatch,
        "zoo_unmarked",
        """
        from zoo_core import hookimpl

        @hookimpl
        def register_trainers(registry):
            registry.add("t", factory="zoo_plugins.standard.supervised:Supervised", summary="s", tags=["t"])

        def register_optimizers(registry):  # the mistake: no @hookimpl, so it never runs
            registry.add("lion", factory="torch.optim:SGD", summary="s", tags=["t"])
        """,
    )
    zoo = zoo_plugin_zoo("zoo_unmarked")
    assert "lion" not in zoo.optimizers
    assert capsys.readouterr().err.strip() == (
        "zoo: plugin 'zoo_unmarked' (zoo_unmarked): warning: register_optimizers is not marked with "
        "@hookimpl, so zoo never calls it; decorate it with @zoo_core.hookimpl"
    )
    code, lines = check("zoo_unmarked")
    assert code == 1
    (fail,) = lines_with(lines, "FAIL")
    assert re.match(
        r"FAIL  plugin zoo_unmarked +loads: zoo_unmarked: register_optimizers is not marked", fail
    )


def test_renamed_hook_parameter_says_why_in_one_line(make_zoo):
    class Vae:
        @zoo_core.hookimpl
        def register_datasets(self, reg):
            pass

    zoo = make_zoo(Vae())
    assert zoo.plugins["vae"].error == (
        "PluginError: hook register_datasets(reg): zoo calls hooks by keyword, so its parameter must be "
        "named as the hook's: register_datasets(registry)"
    )
    result = CliRunner().invoke(cli, ["check", "vae"])
    assert result.exit_code == 1 and "register_datasets(registry)" in result.output


# -- zoo check --train: every model carries its expected result ------------------------------------------
class Declared:
    """Three tiny models trained on the quadratic: one meets its declaration, two do not."""

    @zoo_core.hookimpl
    def register_models(self, registry):
        common = {**LINE, "recipe": {"lr": 0.1, "steps": 30}}
        registry.add("fits", expects={"eval_loss": ("<=", 0.5)}, **common)
        registry.add("boasts", expects={"eval_loss": ("<", 1e-6)}, **common)
        registry.add("misnames", expects={"accuracy": (">=", 0.9)}, **common)
        registry.add("silent", **common)


def test_check_train_compares_each_recipe_with_its_declaration(zoo_plugin_zoo):
    zoo_plugin_zoo(Declared())
    result = CliRunner().invoke(cli, ["check", "declared", "--train", "--steps", "4"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    fails = [line for line in lines_with(lines, "FAIL") if "expects: " in line]
    assert len(fails) == 2
    assert re.search(
        r"model declared:boasts +expects: its recipe \(30 steps, .*\): eval_loss = \S+, expected < 1e-06$",
        fails[0],
    )
    assert "the run reports no metric 'accuracy' (it reports: loss, eval_loss)" in fails[1]
    assert any(
        re.search(
            r"PASS  model declared:fits +expects: its recipe \(30 steps, .*\): eval_loss=\S+, as declared",
            line,
        )
        for line in lines
    )
    assert any(
        "model declared:silent" in line and "declares no expects=" in line
        for line in lines_with(lines, "SKIP")
    )
    header = lines.index(next(line for line in lines if line.startswith("MODEL ")))
    assert lines[header].split() == ["MODEL", "EXPECTED", "MEASURED", "TIME", "RESULT"]
    table = {row.split()[0]: row for row in lines[header + 2 : header + 6]}
    assert table["declared:fits"].split()[1:4] == ["eval_loss", "<=", "0.5"]
    assert table["declared:fits"].endswith("PASS") and table["declared:boasts"].endswith("FAIL")
    misnames = table["declared:misnames"].split()
    assert misnames[4] == "-" and misnames[-1] == "FAIL"  # nothing measured under that name
    assert table["declared:silent"].endswith("SKIP")


class Family:
    """A small line and two larger ones of the same code, checked through the small one."""

    @zoo_core.hookimpl
    def register_models(self, registry):
        registry.add("line-s", **LINE)
        wide = {**LINE, "factory": Stuck, "defaults": {}}  # would FAIL 'trains' if it were checked
        registry.add("line-m", checked_as="line-s", **wide)
        registry.add("line-l", checked_as="line-s", expects={"eval_loss": ("<=", 1e9)}, **LINE)
        registry.add("line-x", checked_as="line-xs", **LINE)


def test_checked_as_checks_the_family_through_its_stand_in(zoo_plugin_zoo):
    zoo_plugin_zoo(Family())
    code, lines = check("family")
    stood_in = [line for line in lines_with(lines, "SKIP") if "  checks: " in line]
    assert [line.split()[2] for line in stood_in] == ["family:line-l", "family:line-m"]
    assert all("checked as family:line-s (the same code, smaller)" in line for line in stood_in)
    assert "'zoo check family:line-m' checks this one itself" in stood_in[1]
    assert sum("model family:line-m" in line for line in lines) == 2  # metadata, and the SKIP
    (fail,) = lines_with(lines, "FAIL")  # a stand-in that is not registered is the author's mistake
    assert (
        "model family:line-x" in fail
        and "checked_as='line-xs', but plugin 'family' registers no model" in fail
    )
    assert code == 1
    assert any("model family:line-s" in line and "  trains: " in line for line in lines_with(lines, "PASS"))

    code, lines = check("family:line-m")  # named, it is checked itself
    assert code == 1 and "12 CPU steps left the weights unchanged" in lines_with(lines, "FAIL")[0]


def test_check_train_still_trains_a_stood_in_model_that_declares_expects(zoo_plugin_zoo):
    zoo_plugin_zoo(Family())
    result = CliRunner().invoke(cli, ["check", "family", "--train", "--steps", "4"])
    trained = [line.split()[0] for line in result.output.splitlines() if line.startswith("family:")]
    assert trained == ["family:line-l", "family:line-s"]


def test_each_line_is_shown_as_it_is_decided(zoo_plugin_zoo):
    """A large model's checks take minutes: its metadata line is out before it is even built."""
    seen, at_build = [], []

    def watched(**settings):
        at_build.append([f"{o.status} {o.check}" for o in seen])
        return torch.nn.Linear(1, 1)

    class Watched:
        @zoo_core.hookimpl
        def register_models(self, registry):
            registry.add("watched", **{**LINE, "factory": watched, "defaults": {}})

    zoo_plugin_zoo(Watched())
    report = run_checks(["watched"], steps=4, listing=False, on_outcome=seen.append)
    assert at_build[0] == ["PASS loads", "PASS metadata"]
    assert seen == report.outcomes and len(seen) == len({id(o) for o in seen})  # each line once


@pytest.mark.parametrize("bad", ["line-s", "Line S", 3])
def test_checked_as_must_name_another_entry(make_zoo, bad):
    class Wrong:
        @zoo_core.hookimpl
        def register_models(self, registry):
            registry.add("line-s", checked_as=bad, **LINE)

    with pytest.raises(PluginError, match=r"checked_as of model 'line-s' is .*; name another model"):
        Zoo.isolated(Wrong(), builtins=False)


def test_check_train_skips_a_model_whose_data_are_missing(zoo_plugin_zoo, monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA_ROOT", str(tmp_path / "empty"))
    zoo_plugin_zoo("cnn")
    report = run_checks(["cnn:cnn"], steps=4, listing=False, train=True)
    (row,) = report.trained
    assert (row.status, row.model, row.expected) == ("SKIP", "cnn:cnn", "accuracy >= 0.92")
    assert "needs files that are missing here; pass --data-root DIR" in report.outcomes[-1].detail


def test_zoo_check_fixture_trains_on_request(zoo_check):
    with pytest.raises(pytest.fail.Exception) as failed:
        zoo_check(Declared(), steps=4, listing=False, train=True)
    assert "declared:boasts" in str(failed.value) and "MEASURED" in str(failed.value)


def test_zoo_check_fixture_takes_one_entry_as_zoo_check_does(zoo_check):
    report = zoo_check("standard:quadratic", listing=False)
    assert {o.subject for o in report.outcomes} == {"dataset standard:quadratic"}


def halving(optimizer, total_steps, gamma=0.5):
    """Halve the learning rate halfway through the run."""
    import torch

    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, total_steps // 2), gamma=gamma)


def test_schedulers_are_checked_for_what_they_build(zoo_plugin_zoo):
    class Sched:
        @zoo_core.hookimpl
        def register_schedulers(self, registry):
            registry.add("halving", factory=halving, summary="s", tags=["t"], defaults={"gamma": 0.5})
            registry.add("wrong", factory=lambda optimizer, total_steps: "cosine", summary="s", tags=["t"])

    zoo_plugin_zoo(Sched())
    code, lines = check("sched")
    assert code == 1, "\n".join(lines)
    assert any(
        re.search(r"PASS  scheduler sched:halving +builds: over an SGD optimizer for 1000 steps: a StepLR", x)
        for x in lines
    )
    (fail,) = lines_with(lines, "FAIL")
    assert re.search(
        r"scheduler sched:wrong +builds: the factory returned str, not a torch LRScheduler \(or None\)", fail
    )


def test_zoos_own_schedulers_pass(zoo_plugin_zoo):
    zoo_plugin_zoo("standard")
    code, lines = check("standard")
    assert code == 0, "\n".join(lines)
    assert len([x for x in lines_with(lines, "PASS") if "builds: over an SGD optimizer" in x]) >= 5


@pytest.mark.parametrize(
    ("noun", "said"),
    [("ELBOTrainer", "an ELBOTrainer"), ("AdamW", "an AdamW"), ("SGD", "an SGD"), ("Supervised", "a Supervised"),
     ("RNNTrainer", "an RNNTrainer"), ("BatchNormCompare", "a BatchNormCompare")],
)  # fmt: skip
def test_a_or_an_as_the_name_is_spoken(noun, said):
    from zoo_core.author.contract.parts import article

    assert article(noun) == said


# -- zoo check predicts with the sample inputs a predictor declares ----------------------------------
class _Sampled(zoo_core.Predictor):
    sample = ("0.5",)

    def read(self, model, args):
        from zoo_core.plugin.predictor import parse_numbers

        return (torch.tensor([parse_numbers(a, 1, "x") for a in args]),)


class _Unreadable(_Sampled):
    sample = ("half",)


class Predicting:
    """Two models with predictors: one reads its sample, one refuses it."""

    @zoo_core.hookimpl
    def register_models(self, registry):
        common = {**LINE, "recipe": {"lr": 0.1, "steps": 10}}
        registry.add("reads", predictor=_Sampled, **common)
        registry.add("refuses", predictor=_Unreadable, **common)


def test_check_predicts_with_the_predictors_sample(zoo_plugin_zoo):
    zoo_plugin_zoo(Predicting())
    report = run_checks(["predicting"], steps=4, listing=False)
    (good,) = [o for o in report.outcomes if o.check == "predicts" and "reads" in o.subject]
    assert good.status == "PASS" and "'zoo predict RUN 0.5' reads, runs and shows 1 records" in good.detail
    (bad,) = [o for o in report.outcomes if o.check == "predicts" and "refuses" in o.subject]
    assert bad.status == "FAIL" and "expected numbers (x), got 'half'" in bad.detail


def test_the_bounds_advice_names_every_kernel_set(monkeypatch):
    from zoo_core.author.contract.learning import kernel_sets

    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert kernel_sets() == ["default", "avx2", "avx512"]
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert kernel_sets() == ["default", "avx2"]


def test_check_builds_the_model_its_data_size_and_runs_the_trainers_check(zoo_plugin_zoo):
    from test_training import _Sized

    zoo = zoo_plugin_zoo(_Sized)
    report = run_checks([zoo.models.get("sized").qualname], steps=4, listing=False)
    assert report.ok, report.text()  # its trainer's check refuses the default width 8; the data imply 5
    (batch,) = [o for o in report.outcomes if o.check == "batch" and "sized:sized" in o.subject]
    assert batch.status == "PASS"
