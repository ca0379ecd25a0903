"""Lesson 203, activation functions: relu, sigmoid, tanh and softplus drawn side by side.

``zoo activations [--out FILE]`` evaluates the four functions on ``x = linspace(-5, 5, 200)`` and
saves the lesson's 2x2 figure (default ``activations.png`` in the current folder; the path is
printed). The curves come from ``zoo_core.activation(name)``, the very modules the MLP-style
models use: every one of them (``regression``, ``classification``, their ``-seq`` twins, ``mlp``)
takes ``activation`` as a hyperparameter, so ``zoo train regression --set activation=tanh`` trains
the lesson's net with tanh instead of ReLU.

What changed from the tutorial's code:
- ``F.sigmoid`` and ``F.tanh`` are deprecated: ``torch.sigmoid``/``torch.tanh`` (here the
  ``nn.Sigmoid``/``nn.Tanh`` modules); no ``Variable`` and no ``.data.numpy()`` (``.detach()``).
- the figure is saved to a file instead of shown with ``plt.show()``; softmax, which the tutorial
  mentions in a comment, is left out as it is: it maps a vector to probabilities, not one number
  to another.
"""

from zoo_core import hookimpl

DEFAULT_OUT = "activations.png"


@hookimpl
def register_commands(cli):
    import click

    @cli.command("activations")
    @click.option(
        "--out",
        "out",
        type=click.Path(dir_okay=False),
        default=DEFAULT_OUT,
        show_default=True,
        help="PNG file to write the 2x2 figure to.",
    )
    def activations_command(out):
        """Lesson 203: draw relu, sigmoid, tanh and softplus on x in [-5, 5]."""
        from zoo_plugins.activations.lesson import draw

        path = draw(out)
        click.echo(f"wrote {path}")
