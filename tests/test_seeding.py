"""One seed for every generator, and their states restored so a resumed run draws the same."""

from __future__ import annotations

import random

import numpy as np
import torch

from zoo_core.training.seeding import rng_state, seed_everything, set_rng_state


def _draws() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_one_seed_sets_python_numpy_and_torch():
    seed_everything(7)
    first = _draws()
    seed_everything(7)
    assert _draws() == first
    seed_everything(8)
    assert _draws() != first


def test_a_saved_state_draws_again_what_followed_it_even_after_a_round_trip_as_lists():
    seed_everything(3)
    saved = rng_state()
    expected = _draws()
    _draws()  # the generators move on
    # a checkpoint keeps Python's state as nested lists: restoring turns them back into tuples
    as_lists = {**saved, "python": [saved["python"][0], list(saved["python"][1]), saved["python"][2]]}
    set_rng_state(as_lists)
    assert _draws() == expected
