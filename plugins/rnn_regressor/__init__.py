"""Lesson 403, RNN regressor: an RNN reads sin(t) window by window and predicts cos(t) at every step.

Each window is 10 points over one pi of t; the hidden state is carried from one window to the next
(and detached each step, so backpropagation stops at the window's start), which is how a stream
longer than any one window is learnt. ``--set dynamic=true`` gives lesson 501's variant: every
window spans 1-3 pi units (10 points per unit), drawn from the run's seed, so the graph changes
shape from step to step.

Changed from the tutorial's code:
- The windows are a dataset (100 consecutive windows, batch size 1, in order, one epoch) instead of
  arrays built inside the loop; the carried hidden state lives in the trainer and is saved for resume.
- ``Linear(32, 1)`` is applied to all time steps at once (it acts on the last dimension), the same
  as the tutorial's loop over time steps that stacks the outputs.
- ``h.detach()`` replaces ``h_state.data``; no ``Variable``.
- Dynamic windows continue where the previous one ended (endpoint excluded), 10 points per pi unit.
- The live plot is replaced by a figure written at the end: the predictions made while training and
  the trained model's predictions against the target, plus the measured MSE.
"""

from zoo_core import hookimpl

LESSON = "403 RNN regressor"


@hookimpl
def register_models(registry):
    registry.add(
        "rnn-regressor",
        factory="zoo_plugins.rnn_regressor.lesson:RNNRegressor",
        summary="RNN(1->32) with Linear(32,1) at every step, predicting cos(t) from sin(t)",
        lesson=LESSON,
        tags=["rnn", "regression", "sequence"],
        defaults={"input_size": 1, "hidden_size": 32, "num_layers": 1, "nonlinearity": "tanh"},
        dataset="sine-windows",
        optimizer="adam",
        trainer="rnn-regressor",
        recipe={"lr": 0.02, "epochs": 1, "batch_size": 1, "shuffle": False},
        predictor="zoo_plugins.rnn_regressor.predict:OneSequence",
        # measured 0.0022-0.038 (seeds 0-9, CPU capabilities default and avx2)
        expects={"mse": ("<=", 0.08)},
    )


@hookimpl
def register_datasets(registry):
    registry.add(
        "sine-windows",
        factory="zoo_plugins.rnn_regressor.lesson:sine_windows",
        summary="Consecutive windows of x = sin(t), y = cos(t), 10 points per pi (1-3 pi when dynamic)",
        lesson=LESSON,
        tags=["synthetic", "sequence"],
        defaults={"n": 100, "points_per_pi": 10, "dynamic": False, "min_pi": 1, "max_pi": 3},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "rnn-regressor",
        factory="zoo_plugins.rnn_regressor.lesson:RNNRegressorTrainer",
        summary="MSE per window with the RNN's hidden state carried (detached) to the next window",
        lesson=LESSON,
        tags=["rnn", "sequence"],
        defaults={"keep_windows": 1000, "zoom_pi": 15},
    )
