"""Property: whatever a user types or a file holds, zoo succeeds or says one line with exit code 2.

Never a traceback, never "internal error", never a changed file the command did not own. Inputs:
``zoo train`` options and ``--set`` values, and run folders whose config.json, summary.json,
metrics.csv or either safetensors file (bytes, or one value inside their JSON or metadata) was
changed, then given to ``zoo eval``, ``zoo train --resume``, ``zoo runs`` and
``zoo compare-formats``. Bounded: a few dozen examples each, well under a minute in all.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Toy
from zoo_core.cli import cli
from zoo_core.plugin.discovery import Zoo, set_zoo
from zoo_core.store.runs import runs_root
from zoo_core.training.loop import train_model

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every machine: a failure is repeatable
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 1e30, -0.0]),
)
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
# Sizes and lengths get small or invalid values only: a valid huge one is a long run or a big
# allocation the user asked for, not bad input.
SIZES = ["hidden", "model.hidden", "n", "steps", "epochs", "workers"]
small = st.sampled_from(["-5", "-1", "0", "1", "3", "2.5", "nan", "1e30", "x", "", "none"])
KEYS = [
    "lr",
    "steps",
    "epochs",
    "batch_size",
    "seed",
    "hidden",
    "activation",
    "n",
    "slope",
    "momentum",
    "weight",
    "workers",
    "log_every",
    "checkpoint_every",
    "eval_every",
    "shuffle",
    "drop_last",
    "stop_on_nan",
    "loop.lr",
    "model.hidden",
    "optimizer.momentum",
    "nope",
    "a.b",
]


@pytest.fixture(scope="module")
def toy_only():
    previous = set_zoo(Zoo.from_plugins([Toy]))
    yield
    set_zoo(previous)


@pytest.fixture(scope="module")
def template(toy_only, tmp_path_factory) -> Path:
    """One finished run with a mid-run checkpoint, copied for every example."""
    run = tmp_path_factory.mktemp("template") / "run"
    train_model("toy", out=run, device="cpu", steps=12, sets=["checkpoint_every=5"])
    return run


def _invoke(args: list[str]) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _assert_clean(result: Any, args: list[str]) -> None:
    """Success, or one line ``zoo: error: ...`` with exit code 2; nothing else is acceptable."""
    shown = f"zoo {' '.join(map(str, args))}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"{shown}: {type(result.exception).__name__}: {result.exception}"
        ) from result.exception
    assert result.exit_code in (0, 2), f"{shown}: exit {result.exit_code}\n{result.output}"
    assert "internal error" not in result.output and "Traceback" not in result.output, shown
    if result.exit_code == 2:
        errors = [line for line in result.output.splitlines() if line.startswith("zoo: error:")]
        assert len(errors) == 1, f"{shown}:\n{result.output}"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# -- zoo train: options and --set values -----------------------------------------------------------
@SETTINGS
@given(
    sets=st.lists(
        st.sampled_from(KEYS).flatmap(
            lambda k: st.tuples(st.just(k), small if k in SIZES else st.one_of(numbers.map(str), text))
        ),
        max_size=3,
    ),
    lr=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    seed=st.none() | st.integers(min_value=-(2**65), max_value=2**65),
    length=st.sampled_from(
        [[], ["--steps", "3"], ["--epochs", "1"], ["--steps", "0"], ["--epochs", "1", "--steps", "2"]]
    ),
)
def test_train_inputs_succeed_or_fail_in_one_line(toy_only, tmp_path_factory, sets, lr, seed, length):
    out = tmp_path_factory.mktemp("train") / "run"
    args = ["train", "toy", "--device", "cpu", "-q", "--out", out, *length]
    args += [a for k, v in sets for a in ("--set", f"{k}={v}")]
    args += ["--lr", repr(lr)] if lr is not None else []
    args += ["--seed", str(seed)] if seed is not None else []
    if not length:
        args += ["--steps", "3"] if not any(k in ("steps", "epochs") for k, _ in sets) else []
    result = _invoke(args)
    _assert_clean(result, args)
    if result.exit_code == 2 and out.exists():  # only a run that began (then diverged) keeps its folder
        assert "training diverged" in result.output
        assert json.loads((out / "summary.json").read_text())["status"] == "failed"


# -- zoo train --out: names of any characters, bytes and lengths ---------------------------------
names = st.one_of(
    st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=12),
    st.text(st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF), min_size=1, max_size=3).map(
        lambda raw: "x" + raw  # bytes that are not UTF-8, as Python hands them over from argv
    ),
    st.integers(min_value=200, max_value=300).map(lambda n: "é" * (n // 2) + "x" * (n % 2)),
    st.sampled_from(["a\nb", "a\rb", " ", "-", "..x", "ü" * 128]),
)


@SETTINGS
@given(name=names)
def test_out_names_are_used_or_refused_in_one_line_leaving_nothing(toy_only, tmp_path_factory, name):
    parent = tmp_path_factory.mktemp("out")
    args = ["train", "toy", "--steps", "1", "-q", "--out", str(parent / name)]
    result = _invoke(args)
    _assert_clean(result, args)
    if result.exit_code == 2:
        assert len(result.output.strip().splitlines()) == 1, result.output  # a name's line break too
        assert list(parent.iterdir()) == [], "a refused --out left a folder behind"
    else:
        assert json.loads((parent / name / "summary.json").read_text())["status"] == "finished"


# -- zoo train --config: files of any bytes, depth and settings -------------------------------------
def _deep(kind: str, depth: int) -> bytes:
    if kind == "toml":
        return b"a = " + b"[" * depth + b"]" * depth + b"\n"
    return b'{"a": ' * depth + b"1" + b"}" * depth


config_files = st.one_of(
    st.tuples(st.sampled_from(["toml", "json"]), st.binary(max_size=80)),
    st.tuples(st.sampled_from(["toml", "json"]), st.sampled_from([10, 3000, 100000])).map(
        lambda t: (t[0], _deep(*t))
    ),
    st.tuples(
        st.just("json"),
        st.dictionaries(
            st.sampled_from(["steps", "epochs", "lr", "seed"]),
            st.none() | numbers | st.sampled_from(["none", "x"]),
        ).map(lambda loop: json.dumps({"model": "toy", "loop": loop}, allow_nan=True).encode()),
    ),
)


@SETTINGS
@given(file=config_files)
def test_config_files_are_used_or_refused_in_one_line(toy_only, tmp_path_factory, file):
    kind, raw = file
    path = tmp_path_factory.mktemp("config") / f"c.{kind}"
    path.write_bytes(raw)
    args = ["train", "toy", "--config", path, "--print-config"]
    result = _invoke(args)
    _assert_clean(result, args)
    try:
        loop = json.loads(raw).get("loop", {})
    except (ValueError, AttributeError, RecursionError):
        return
    if all(loop.get(k) not in (None, "none") for k in ("steps", "epochs")):
        assert result.exit_code == 2 and "not both" in result.output, result.output  # as flags are


# -- mutated run folders, given to eval and resume -------------------------------------------------
def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _set_path(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    value[path[0]] = _set_path(value[path[0]], path[1:], new)
    return value


NASTY = [None, True, -1, 0, 2**64, 1e30, math.nan, math.inf, "x", "", [], {}, [1, "a"], {"k": 1.5}, 3.5]


def _mutate_json(data: Any, rnd: Any) -> Any:
    """``data`` with one value, anywhere in it, replaced by one a validator must refuse or survive."""
    return _set_path(data, rnd.choice(_paths(data)), rnd.choice(NASTY))


def _header(raw: bytes) -> tuple[dict[str, Any], bytes]:
    (size,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + size]), raw[8 + size :]


def _with_header(header: dict[str, Any], body: bytes) -> bytes:
    data = json.dumps(header, allow_nan=True).encode()
    data += b" " * (-len(data) % 8)
    return struct.pack("<Q", len(data)) + data + body


@st.composite
def mutations(draw: Any) -> tuple[str, str, Any]:
    """(file, kind, how): one change a user, a crash or an attacker could make to a run folder."""
    name = draw(
        st.sampled_from(
            ["config.json", "summary.json", "metrics.csv", "model.safetensors", "state.safetensors"]
        )
    )
    kind = draw(st.sampled_from(["value", "truncate", "byte", "deep", "big", "latin-1"]))
    return name, kind, draw(st.randoms(use_true_random=False))


def _apply(run: Path, name: str, kind: str, rnd: Any) -> None:
    path = run / name
    raw = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(raw[: rnd.randrange(len(raw))])
        return
    if kind == "deep":  # nested past any parser's recursion limit
        path.write_bytes(b"[" * 100000 + b"]" * 100000)
        return
    if kind == "big":  # a 128 KB value: a CSV cell over csv's field limit
        i = rnd.randrange(len(raw))
        path.write_bytes(raw[:i] + b"9" * 131100 + raw[i:])
        return
    if kind == "latin-1":  # not UTF-8
        i = rnd.randrange(len(raw))
        path.write_bytes(raw[:i] + "é".encode("latin-1") + raw[i:])
        return
    if kind == "byte" or name == "metrics.csv":
        i = rnd.randrange(len(raw))
        path.write_bytes(raw[:i] + bytes([rnd.randrange(256)]) + raw[i + 1 :])
        return
    if name.endswith(".json"):
        path.write_text(json.dumps(_mutate_json(json.loads(raw), rnd), allow_nan=True))
        return
    header, body = _header(raw)
    meta = header.get("__metadata__", {})
    key = rnd.choice(sorted(meta))
    try:
        value = json.loads(meta[key])
        meta[key] = json.dumps(_mutate_json(value, rnd), allow_nan=True)
    except ValueError:  # a plain string value (zoo.model, zoo.commit)
        meta[key] = str(rnd.choice(NASTY))
    if rnd.random() < 0.2:  # or change a tensor's declared shape
        tensor = rnd.choice(sorted(k for k in header if k != "__metadata__"))
        header[tensor]["shape"] = [rnd.choice([0, 1, 3, 10**9])] + header[tensor]["shape"][1:]
    path.write_bytes(_with_header(header, body))


@SETTINGS
@given(change=mutations(), command=st.sampled_from(["eval", "resume", "runs", "compare", "compare-formats"]))
def test_mutated_run_folders_are_used_or_refused_in_one_line(template, change, command):
    run = runs_root() / "toy" / "mutated"  # where 'zoo runs' looks
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(template, run)
    name, kind, rnd = change
    _apply(run, name, kind, rnd)
    before = _snapshot(run)
    args = {
        "eval": ["eval", run, "--device", "cpu"],
        "resume": ["train", "--resume", run, "-q", "--device", "cpu"],
        "runs": ["runs"],
        "compare": ["compare", run, template, "--json"],
        "compare-formats": ["compare-formats", run, "--repeat", "1"],
    }[command]
    result = _invoke(args)
    _assert_clean(result, args)
    after = _snapshot(run)
    if command == "runs":  # a damaged run is listed (as damaged when its files cannot be read)
        listed = _invoke(["runs", "--json"])
        assert listed.exit_code == 0 and str(run) in listed.output, listed.output
    if command != "resume" or result.exit_code == 2:
        owned = {"summary.json"} if command == "resume" else set()  # a failed resume marks its run
        changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)} - owned
        assert not changed, f"{args}: changed {changed}"


# -- zoo predict: tensor files whose header, body or format is anything ----------------------------
def _npy(version: int, descr: str, fortran: bool, shape: tuple[int, ...], body: bytes) -> bytes:
    """A .npy file as its header says, whatever the body really holds."""
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode()
    size = struct.Struct("<H" if version == 1 else "<I")
    header += b" " * (-(len(header) + 1 + 8 + size.size) % 64) + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + size.pack(len(header)) + header + body


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


tensor_files = st.one_of(
    st.builds(
        _npy,
        st.sampled_from([1, 2]),
        st.sampled_from(["<f4", "<f8", ">f4", "<i8", "|u1", "|b1", "<c8", "|O", "<U3", "<M8[s]", "V4"]),
        st.booleans(),
        st.lists(st.sampled_from([0, 1, 3, 28, 10**6, 2**31, 2**40, 2**62]), max_size=4).map(tuple),
        st.binary(max_size=64),
    ).map(lambda raw: ("x.npy", raw)),
    st.sampled_from([2, 50, 5000, 100000]).map(lambda d: ("x.json", _nested(d))),
    st.binary(max_size=64).map(lambda raw: ("x.npy", raw)),
    st.just(("x.npy", b"PK\x03\x04" + b"\0" * 60)),  # an .npz (a zip) named .npy
    st.binary(max_size=64).map(lambda raw: ("x.json", raw)),
)


@SETTINGS
@given(file=tensor_files)
def test_tensor_files_are_read_or_refused_in_one_line_before_allocating(template, tmp_path_factory, file):
    import tracemalloc

    name, raw = file
    path = tmp_path_factory.mktemp("input") / name
    path.write_bytes(raw)
    args = ["predict", template, path]
    tracemalloc.start()
    try:
        result = _invoke(args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _assert_clean(result, args)
    assert peak < 64 * 2**20, f"{args}: {peak:,} bytes allocated for a {len(raw)}-byte file"


def test_a_npy_header_claiming_a_huge_shape_is_refused_before_allocating(template, tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(_npy(1, "<f8", False, (70000, 70000), b"\0" * 64))  # 37 GiB claimed, 200 bytes held
    result = _invoke(["predict", template, path])
    assert result.exit_code == 2, result.output
    assert "its header claims shape (70000, 70000) of float64 (39,200,000,000 bytes)" in result.output


@pytest.mark.filterwarnings("error")  # not a raw UserWarning about discarding the imaginary part
def test_a_complex_tensor_is_refused_in_one_line(template, tmp_path):
    import torch
    from safetensors.torch import save_file

    save_file({"x": torch.ones(2, 1, dtype=torch.complex64)}, str(tmp_path / "x.safetensors"))
    result = _invoke(["predict", template, tmp_path / "x.safetensors"])
    assert result.exit_code == 2, result.output
    assert "holds complex numbers (torch.complex64); give real numbers" in result.output
