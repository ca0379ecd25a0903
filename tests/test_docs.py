"""The guides cannot rot: docs/writing-a-plugin.md is followed to the end, block by block, by a
test that does what a newcomer does, and CONTRIBUTING.md names what really exists.

Every block of the guide is used: ``# file:`` blocks are written (``# append to:`` blocks added)
in the folder the guide is in, and every ``$`` command of a console block is run in a shell with
the shown output compared (``...`` elides). To keep the shared virtual environment untouched,
``pip install [-e] PATH`` runs as ``pip install --no-deps --no-build-isolation --target SITE PATH``
(``-e`` then also puts ``PATH/src`` first on PYTHONPATH, which is what an editable install does),
``pip install NAME`` installs NAME from the wheel in ``dist/`` into a fresh site (another user's
environment), and ``pip wheel`` gets ``--no-build-isolation``. The one command not run is the
upload to PyPI.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import ROOT, Block, blocks, commands, match_output, run_zoo_commands, sections, write
from plugin_packages import env_with

from zoo_core.plugin import hookspecs

GUIDE = ROOT / "docs" / "writing-a-plugin.md"
DEVELOPING = ROOT / "CONTRIBUTING.md"
NOT_RUN = {"python -m twine upload dist/*"}  # needs an account on PyPI


def guide_blocks() -> list[Block]:
    return blocks(GUIDE)


def development_blocks() -> list[Block]:
    return blocks(DEVELOPING)


class Newcomer:
    """Follows the guide: a working folder, the packages installed so far, the shell."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.cwd = home
        self.sites = 0
        self.site = self.new_site()
        self.paths: list[Path] = [self.site]
        self.ran: list[str] = []

    def new_site(self) -> Path:
        self.sites += 1
        site = self.home.parent / f"site{self.sites}"
        site.mkdir()
        return site

    def translate(self, command: str) -> str | None:
        words = shlex.split(command)
        if words[:1] == ["pip"]:
            words = ["python", "-m", *words]
        if words[:4] == ["python", "-m", "pip", "install"]:
            args = words[4:]
            editable = "-e" in args
            targets = [a for a in args if a != "-e"]
            local = all(a == "." or "/" in a for a in targets)
            site, extra = self.site, []
            if not local:  # from the index: here, the wheel built in dist/, into a new environment
                site, extra = self.new_site(), ["--no-index", "--find-links", "dist"]
                self.paths = [site]
            elif editable:
                self.paths[:0] = [(self.cwd / a / "src").resolve() for a in targets]
            pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
            return shlex.join([*pip, "--no-build-isolation", "--target", str(site), *extra, *targets])
        if words[:4] == ["python", "-m", "pip", "wheel"]:
            return shlex.join([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", *words[4:]])
        if command in NOT_RUN:
            return None
        return command

    def run(self, block: Block, command: str, expected: list[str]) -> None:
        where = f"{GUIDE.name}:{block.line} ({block.section}): '{command}'"
        if command.startswith("cd "):
            self.cwd = (self.cwd / command[3:].strip()).resolve()
            assert self.cwd.is_dir(), f"{where}: no such folder"
            return
        shell = self.translate(command)
        if shell is None:
            return
        proc = subprocess.run(
            ["bash", "-c", shell],
            cwd=self.cwd,
            env=env_with(self.paths),
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.ran.append(command)
        assert proc.returncode == 0, f"{where} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        assert "zoo: plugin 'waves'" not in proc.stderr, f"{where}: {proc.stderr}"
        problem = match_output(expected, proc.stdout)
        assert problem is None, f"{where}: {problem}"


@pytest.mark.slow
def test_the_guide_works_from_start_to_end(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    newcomer = Newcomer(home)
    for block in guide_blocks():
        if block.mode in ("file", "append"):
            write(block, newcomer.cwd)
        elif block.mode == "console":
            for cmd in commands(block):
                newcomer.run(block, cmd.command, cmd.expected)
        else:
            pytest.fail(
                f"{GUIDE.name}:{block.line}: a guide block must be a '# file:' block or a console block"
            )
    # the guide really went everywhere it promises
    for promised in (
        "zoo plugins",
        "zoo train fourier",
        "zoo eval",
        "zoo check waves",
        "pytest",
        "pip install zoo-waves",
    ):
        assert any(c.startswith(promised) for c in newcomer.ran), promised
    assert (home / "zoo-my-models" / "pyproject.toml").is_file()


def test_every_guide_block_is_used():
    """Each block is a file to write or a console block; every console line is a command or its output."""
    found = guide_blocks()
    assert len(found) >= 15
    for block in found:
        assert block.mode in ("file", "append", "console"), f"{GUIDE.name}:{block.line} is neither"
        if block.mode == "console":
            assert commands(block), f"{GUIDE.name}:{block.line}: a console block without commands"
    files = {b.path for b in found if b.mode == "file"}
    for block in found:
        if block.mode == "append":
            assert block.path in files, f"{GUIDE.name}:{block.line} appends to a file no block writes"


def test_guide_shows_every_hook():
    text = GUIDE.read_text()
    hooks = [name for name, obj in vars(hookspecs).items() if hasattr(obj, f"{hookspecs.PROJECT}_spec")]
    assert "register_schedulers" in hooks
    for hook in hooks:
        assert f"def {hook}(" in text, hook


def test_development_part_names_what_exists():
    text = sections(DEVELOPING)["Developing zoo"]
    commands_shown = [c.command for b in development_blocks() if b.mode == "console" for c in commands(b)]
    assert commands_shown == [
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'",
        ".venv/bin/python -m pytest",
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
    ]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^dev = \[[^\]]*pytest[^\]]*ruff[^\]]*\]", pyproject, re.M)
    assert (ROOT / ".ci" / "run").is_file()
    listed = re.findall(r"^\| `([^`]+)` \|", text, re.M)
    missing = [p for p in listed if not (ROOT / p).exists()]
    assert not missing, f"CONTRIBUTING.md lists paths that do not exist: {missing}"
    layers = sorted(
        f"{p.parent.relative_to(ROOT).as_posix()}/" for p in (ROOT / "zoo_core").glob("*/__init__.py")
    )
    unlisted = [layer for layer in layers if layer not in listed]
    assert not unlisted, f"add these layers to the layout table in CONTRIBUTING.md: {unlisted}"
    assert "benchmarks/" in listed and len(listed) <= 12


def test_examples_readme_names_real_packages_and_commands():
    text = (ROOT / "examples" / "README.md").read_text()
    readme = ROOT / "examples" / "README.md"
    lines = [c.command for b in blocks(readme) if b.mode == "console" for c in commands(b)]
    installs = [
        w for line in lines if "pip install" in line for w in shlex.split(line) if w.startswith("examples/")
    ]
    assert sorted(set(installs)) == ["examples/zoo-broken-plugin", "examples/zoo-example-plugin"]
    for path in installs:
        assert (ROOT / path / "pyproject.toml").is_file()
    from zoo_core.cli import cli

    core = set(cli.commands)
    for line in lines:
        for part in line.split("&&"):
            words = [w for w in shlex.split(part) if "=" not in w]
            if words and words[0] == "zoo":
                assert words[1] in core | {"spiral"}, part
    assert "zoo-example-plugin" in text and "0.2.0" in text


def test_readme_repeat_resume_compare_runs(tmp_path, monkeypatch):
    """The README's "Repeat, resume, compare" commands, run in a fresh folder, outputs compared."""
    readme = ROOT / "README.md"
    (console,) = [b for b in blocks(readme) if b.section == "Repeat, resume, compare" and b.mode == "console"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZOO_RUNS_DIR")  # a clean folder: the default ./runs, as a user has it
    run_zoo_commands(console)
    assert (tmp_path / "runs" / "sgd-vs-adam.png").read_bytes().startswith(b"\x89PNG")


def test_readme_use_a_trained_model_runs(tmp_path, monkeypatch):
    """The README's "Use a trained model" section: its console commands and Python, as shown."""
    readme = ROOT / "README.md"
    found = [b for b in blocks(readme) if b.section == "Use a trained model" and b.mode in ("console", "run")]
    assert [b.mode for b in found] == ["console", "run"]
    monkeypatch.chdir(tmp_path)
    ran = run_zoo_commands(found[0])
    assert ran == ["train", "predict", "export", "export", "export", "eval"]
    exec(compile(found[1].text, f"{readme}:{found[1].line}", "exec"), {"__name__": "readme_example"})
