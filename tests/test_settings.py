"""The loop's settings record: typed fields, one message per wrong value, never changed in place."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoo_core.config import settings
from zoo_core.config.settings import Loop
from zoo_core.plugin.errors import ZooError


def test_defaults_make_a_loop_once_it_has_a_length():
    with pytest.raises(ZooError, match="give the run a length: epochs or steps"):
        Loop()
    loop = Loop(steps=5)
    assert loop.to_dict() == {**settings.defaults(), "steps": 5}
    assert settings.NAMES[0] == "lr" and "stop_on_nan" in settings.NAMES


def test_a_loop_is_frozen_and_replace_checks_again():
    loop = Loop(epochs=2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        loop.lr = 0.5  # type: ignore[misc]
    assert loop.replace(lr=0.5).lr == 0.5 and loop.lr == 0.01
    with pytest.raises(ZooError, match="lr must be a positive number, got -1.0"):
        loop.replace(lr=-1)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"steps": 0}, "steps must be a positive whole number, got 0"),
        ({"steps": 2.5}, "steps must be a whole number, not 2.5"),
        ({"steps": 2, "workers": -1}, "workers must be 0 or more, got -1"),
        ({"steps": 2, "shuffle": "yes"}, "shuffle must be true or false, not 'yes'"),
        ({"steps": 2, "lr": float("nan")}, "lr must be a finite number"),
        ({"steps": 2, "seed": 2**32}, "seed must be a whole number from 0 to 4294967295"),
        ({"steps": 2, "precision": "fp8"}, "precision 'fp8': choose one of 32-true, bf16-mixed, 16-mixed"),
        ({"steps": 2, "grad_clip": 0}, "grad_clip must be a positive number, got 0.0"),
        ({"steps": 2, "patience": 3}, "--patience needs evaluations during the run"),
        ({"steps": 2, "monitor": "eval_loss"}, "--monitor needs evaluations during the run"),
        ({"steps": 2, "warmup": 3}, "unknown loop setting 'warmup'; valid: lr, epochs"),
    ],
)
def test_from_mapping_names_the_source_and_the_setting(values, message):
    with pytest.raises(ZooError) as caught:
        Loop.from_mapping(values, "run/config.json")
    assert str(caught.value).startswith("run/config.json: ") and message in str(caught.value)


def test_a_whole_number_for_a_float_setting_becomes_a_float():
    loop = Loop.from_mapping({"steps": 3, "lr": 1, "grad_clip": 2})
    assert (type(loop.lr), type(loop.grad_clip)) == (float, float)


def test_the_old_item_access_is_refused_with_the_attribute_to_read():
    loop = Loop(steps=4)
    with pytest.raises(ZooError, match=r"^config.loop\['steps'\]: .*; read config.loop.steps$"):
        loop["steps"]


def test_parse_loop_value_reads_none_only_for_optional_settings():
    assert settings.parse_loop_value("batch_size", "full") is None
    assert settings.parse_loop_value("grad_clip", "0.5") == 0.5
    with pytest.raises(ZooError, match="--set workers=none: expected a whole number"):
        settings.parse_loop_value("workers", "none")


@given(st.dictionaries(st.sampled_from(settings.NAMES), st.integers(-3, 3) | st.booleans() | st.none()))
def test_any_mapping_makes_a_valid_loop_or_one_clear_error(values):
    try:
        loop = Loop.from_mapping(values, "f")
    except ZooError as exc:
        assert str(exc).startswith("f: ") and "\n" not in str(exc)
    else:
        assert loop.epochs is not None or loop.steps is not None
        assert Loop.from_mapping(loop.to_dict()) == loop  # what a run saves reads back the same
