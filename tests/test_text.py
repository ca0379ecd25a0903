"""Text tables: aligned columns, a rule under the headers, no trailing spaces."""

from zoo_core.plugin.text import table


def test_columns_align_and_the_last_is_not_padded():
    out = table([["a", "1", "x"], ["long-name", "22", ""]], ["NAME", "N", "NOTE"])
    assert out.splitlines() == [
        "NAME       N   NOTE",
        "---------  --  ----",
        "a          1   x",
        "long-name  22",
    ]
