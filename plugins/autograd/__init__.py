"""Lesson 202, autograd: tensors that record how they were computed, and their gradients.

``zoo autograd`` runs the lesson: ``v = [[1, 2], [3, 4]]`` with ``requires_grad=True``,
``out = mean(v * v)`` = 7.5, ``out.backward()`` fills ``v.grad`` with d(out)/dv = 2v/4 = v/2, and
``v.detach()`` gives the same numbers without the graph (the way to get to NumPy).

What changed from the tutorial's code:
- ``Variable(tensor, requires_grad=True)`` is gone (merged into tensors in torch 0.4): the tensor
  itself is created with ``requires_grad=True``.
- ``variable.data`` still exists but bypasses autograd's checks; ``.detach()`` is the safe way to
  get the values without the graph, and ``.detach().numpy()`` the way to NumPy.
- ``torch.FloatTensor([...])`` is the legacy constructor; ``torch.tensor(..., dtype=torch.float32)``.
"""

from zoo_core import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("autograd")
    def autograd_command():
        """Lesson 202: mean(v*v) and its gradient v/2, computed by autograd."""
        import click

        from zoo_plugins.autograd.lesson import main

        main(echo=click.echo)
