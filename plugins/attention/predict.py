"""``zoo predict RUN "ROMEO:"``: each prompt continued, one character at a time, by sampling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from zoo_core import Option, PredictOptions, Predictor, ZooError


class Generate(Predictor):
    """Each INPUT is a prompt; the answer is the prompt continued by ``max_new_tokens`` characters."""

    inputs = 'prompts, one text per argument ("ROMEO:"); an empty one starts from a new line'
    cannot_export = "char-gpt generates in a loop of forward passes; export is for one forward pass"
    one_at_a_time = True  # prompts of different lengths do not make one batch
    sample = ("ROMEO:", "")
    options = {
        "max_new_tokens": Option(200, "Characters to generate per prompt.", min=0, max=100_000),
        "temperature": Option(0.8, "Divides the scores: lower is more predictable.", min=1e-3, max=100.0),
        "top_k": Option(40, "Sample among the k likeliest characters only (0: all).", min=0),
        "seed": Option(0, "Seed of the sampling: the same seed, the same text.", min=0),
    }

    def read(self, model: torch.nn.Module, args: Sequence[str]) -> tuple[torch.Tensor, ...]:
        if not args:
            raise ZooError(f"give one or more inputs: {self.inputs}")
        vocab = model.vocab
        prompt = args[0] or "\n"
        unknown = sorted({c for c in prompt if c not in vocab})
        if unknown:
            raise ZooError(
                f"the prompt has characters the model never saw: {''.join(unknown)!r}; "
                f"it knows these {len(vocab)}: {vocab!r}"
            )
        return (torch.tensor([[vocab.index(c) for c in prompt]]),)

    @torch.no_grad()
    def run(self, model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> Any:
        values = self.settings.values
        idx = batch[0]
        gen = torch.Generator(device=idx.device).manual_seed(values["seed"])
        for _ in range(values["max_new_tokens"]):
            scores = model(idx[:, -model.n_positions :])[:, -1, :].float() / values["temperature"]
            if 0 < values["top_k"] < scores.shape[-1]:
                kth = torch.topk(scores, values["top_k"]).values[:, -1:]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            following = torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=gen)
            idx = torch.cat((idx, following), dim=1)
        return idx

    def show(
        self, args: Sequence[str], batch: tuple[torch.Tensor, ...], outputs: Any, options: PredictOptions
    ) -> list[dict[str, Any]]:
        vocab, start = self.model.vocab, batch[0].shape[1]
        return [{"prompt": args[0], "text": "".join(vocab[i] for i in outputs[0, start:].tolist())}]

    def text(self, records: list[dict[str, Any]]) -> str:
        return "\n\n".join(r["prompt"] + r["text"] for r in records)
