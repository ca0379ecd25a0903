"""Lesson 402 RNN classifier: an LSTM over image rows, learning tiny generated digits end to end."""

from __future__ import annotations

import torch

import zoo_core
from zoo_plugins.rnn_classifier.lesson import RNNClassifier

PNG = b"\x89PNG\r\n\x1a\n"


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("rnn-classifier")
    assert entry.defaults == {"input_size": 28, "hidden_size": 64, "num_layers": 1, "n_classes": 10}
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("mnist", "adam", "mnist-classifier")
    assert entry.recipe == {"lr": 0.01, "epochs": 1, "batch_size": 64}


def test_model_reads_rows_and_classifies_the_last_step():
    torch.manual_seed(0)
    model = zoo_core.create_model("rnn-classifier")
    lstm = model.rnn
    assert isinstance(lstm, torch.nn.LSTM) and lstm.batch_first
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers) == (28, 64, 1)
    assert (model.out.in_features, model.out.out_features) == (64, 10)
    images = torch.rand(4, 1, 28, 28)
    scores = model(images)
    assert scores.shape == (4, 10)
    torch.testing.assert_close(model(images[:, 0]), scores)  # (N, 28, 28) works the same
    outputs, _ = lstm(images[:, 0])  # the tutorial: out(r_out[:, -1, :])
    torch.testing.assert_close(scores, model.out(outputs[:, -1, :]))
    # the first row alone decides nothing: changing the last row changes the prediction
    changed = images.clone()
    changed[:, :, -1] = 1 - changed[:, :, -1]
    assert not torch.allclose(model(changed), scores)


def test_training_learns_saves_and_reloads(mnist_root, tmp_path):
    result = zoo_core.train(
        "rnn-classifier", epochs=10, data_root=str(mnist_root), out=tmp_path / "run", device="cpu", quiet=True
    )
    assert result.step == 10 * 7  # 400 images in batches of 64
    losses = [row["loss"] for row in result.history]
    assert losses[0] > 2.0 and losses[-1] < 0.6 * losses[0]
    assert result.metrics["accuracy"] >= 0.4  # chance is 0.1 (0.49-0.6 across kernel sets and CPUs)
    assert (result.run_dir / "predictions.png").read_bytes().startswith(PNG)

    model = zoo_core.load_model(result.run_dir)
    assert isinstance(model, RNNClassifier) and not model.training
    x, y = zoo_core.create_dataset("mnist", data_root=str(mnist_root)).eval.tensors
    with torch.no_grad():
        scores = model(x)
    assert float((scores.argmax(1) == y).float().mean()) == result.metrics["accuracy"]
    assert abs(float(torch.nn.functional.cross_entropy(scores, y)) - result.metrics["eval_loss"]) < 1e-5
