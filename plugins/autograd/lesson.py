"""Lesson 202: what autograd records and what ``backward`` computes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def demo(values: Any = ((1.0, 2.0), (3.0, 4.0))) -> dict[str, torch.Tensor]:
    """``mean(v * v)`` for a plain tensor and for one that requires grad, and the gradient."""
    t = torch.tensor(values, dtype=torch.float32)  # a plain tensor: no graph is recorded
    v = torch.tensor(values, dtype=torch.float32, requires_grad=True)
    t_out = torch.mean(t * t)
    v_out = torch.mean(v * v)  # = (1 + 4 + 9 + 16) / 4 = 7.5
    grad_fn = type(v_out.grad_fn).__name__
    v_out.backward()  # d(v_out)/dv = d(1/4 * sum(v*v))/dv = 2v/4 = v/2
    return {
        "v": v,
        "t_out": t_out,
        "v_out": v_out,
        "grad": v.grad,
        "expected": v.detach() / 2,
        "grad_fn": grad_fn,
    }


def main(echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Print the lesson; returns what it computed."""
    r = demo()
    v, grad = r["v"], r["grad"]
    echo("v = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)")
    echo(f"{v}\n")
    echo("out = torch.mean(v * v)")
    echo(f"  out = {r['v_out'].item():g}   (grad_fn={r['grad_fn']}: autograd recorded how it was made)")
    echo(f"  the same on a plain tensor: {r['t_out'].item():g}   (requires_grad=False: nothing recorded)\n")
    echo("out.backward()   # d(out)/dv = d(1/4 * sum(v*v))/dv = 2v/4 = v/2")
    echo("v.grad =")
    echo(f"{grad}")
    echo(f"  equal to v / 2: {bool(torch.allclose(grad, r['expected']))}\n")
    echo(".grad     holds d(out)/dv after backward(); it ADDS UP over backward calls,")
    echo("          so training loops call optimizer.zero_grad() before each backward().")
    echo(".detach() is v's values without the graph (shares memory, requires_grad=False):")
    echo(f"{v.detach()}")
    echo(".detach().numpy() is the way to NumPy (a tensor that requires grad refuses .numpy()):")
    echo(f"{v.detach().numpy()}")
    return r
