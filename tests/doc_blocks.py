"""Read the code blocks of zoo's Markdown docs so tests can run every one of them.

Conventions (see CONTRIBUTING.md and docs/plugin-hooks.md):

- a block whose first line is ``# file: PATH`` is a file to write (PATH relative to the folder
  the example works in); ``# append to: PATH`` adds the block to the end of that file;
- a ``python`` block without such a line is code to run once the example's plugin is loaded;
- a ``console`` block holds commands (lines starting with ``$ ``), each followed by the output it
  shows. Shown output lines must appear in the real output, in order; ``...`` in a line matches
  anything, a line that is only ``...`` stands for any number of lines, and runs of spaces match
  any run of spaces (tables are aligned to their widest cell).
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^#\s*(file|append to):\s*(\S+)\s*$")


@attrs.define
class Block:
    lang: str
    text: str
    line: int  # where the block starts in the page (1-based), for messages
    section: str  # the nearest heading above it
    mode: str  # file | append | run | console | other
    path: str = ""

    def where(self, page: str) -> str:
        return f"{page}:{self.line} ({self.section})"


@attrs.define
class Command:
    command: str
    expected: list[str]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown page, with its mode and the heading it sits under."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#") and not line.startswith("#!"):
            section = line.lstrip("#").strip()
        fence = _FENCE.match(line)
        if not fence:
            i += 1
            continue
        start, lang, body = i + 1, fence.group(1), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        text = "\n".join(body) + "\n"
        mark = _MARK.match(body[0]) if body else None
        if mark:
            mode = "file" if mark.group(1) == "file" else "append"
            found.append(Block(lang, text, start, section, mode, mark.group(2)))
        elif lang == "python":
            found.append(Block(lang, text, start, section, "run"))
        elif lang == "console":
            found.append(Block(lang, text, start, section, "console"))
        else:
            found.append(Block(lang, text, start, section, "other"))
    return found


def sections(path: Path, level: int = 2) -> dict[str, str]:
    """The page's text cut at headings of ``level`` (``## Title`` -> its text)."""
    out: dict[str, str] = {}
    title, buf = "", []
    marker = "#" * level + " "
    for line in path.read_text().splitlines():
        if line.startswith(marker):
            out[title] = "\n".join(buf)
            title, buf = line[len(marker) :].strip(), []
        else:
            buf.append(line)
    out[title] = "\n".join(buf)
    return out


def commands(block: Block) -> list[Command]:
    """The ``$ `` commands of a console block, each with the output lines shown after it."""
    out: list[Command] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            out.append(Command(line[2:].strip(), []))
        elif out:
            out[-1].expected.append(line)
        elif line.strip():
            raise ValueError(f"console block at line {block.line}: output before any '$ ' command")
    return out


def run_zoo_commands(block: Block, page: str = "README.md") -> list[str]:
    """Run a console block's ``zoo`` commands in this process, each output compared with the
    page's; the subcommands run, in order."""
    import shlex

    from click.testing import CliRunner

    from zoo_core.cli import cli

    ran = []
    for cmd in commands(block):
        words = shlex.split(cmd.command)
        assert words[0] == "zoo", cmd.command
        result = CliRunner().invoke(cli, words[1:], prog_name="zoo")
        assert result.exit_code == 0, f"{page}: '{cmd.command}' failed:\n{result.output}"
        problem = match_output(cmd.expected, result.output)
        assert problem is None, f"{page}: '{cmd.command}': {problem}"
        ran.append(words[1])
    return ran


def _pattern(line: str) -> str:
    """One shown line as a regex: ``...`` matches anything, runs of spaces any run of spaces."""
    parts = [re.sub(r"(?:\\ | )+", "[ \\t]+", re.escape(part)) for part in line.strip().split("...")]
    return "[^\\n]*".join(parts)


def match_output(expected: list[str], actual: str) -> str | None:
    """``None`` when the output is what the page shows (with its elisions), else the difference.

    Blank lines and the spaces around lines are ignored; a shown line that is only ``...``
    stands for any number of lines (none included).
    """
    shown = [line.strip() for line in expected if line.strip()]
    if not shown:
        return None
    got = "".join(line.strip() + "\n" for line in actual.splitlines() if line.strip())
    regex = "".join("(?:[^\\n]*\\n)*?" if line == "..." else _pattern(line) + "\\n" for line in shown)
    if re.fullmatch(regex, got):
        return None
    return "the output differs from the page:\n--- shown\n" + "\n".join(shown) + "\n--- real\n" + got


def write(block: Block, root: Path) -> Path:
    """Write (or append) a file block under ``root``; the marker line is left out."""
    path = root / block.path
    path.parent.mkdir(parents=True, exist_ok=True)
    body = block.text.split("\n", 1)[1]
    if block.mode == "append":
        if not path.exists():
            raise AssertionError(f"block at line {block.line} appends to {block.path}, which no block wrote")
        path.write_text(path.read_text().rstrip("\n") + "\n\n\n" + body)
    else:
        path.write_text(body)
    return path
