"""The 601 char-GPT: token and position embeddings, pre-norm Transformer blocks, a weight-tied head."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core import ZooError

#: the 65 characters of Tiny Shakespeare, sorted: the default vocabulary (a token is an index here)
SHAKESPEARE = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions 0..t only."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # queries, keys, values in one matmul
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape
        heads = self.qkv(x).view(batch, steps, 3, self.n_head, width // self.n_head)
        q, k, v = heads.permute(2, 0, 3, 1, 4)  # each (batch, head, time, head width)
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
        )
        return self.proj_drop(self.proj(y.transpose(1, 2).reshape(batch, steps, width)))


class Block(nn.Module):
    """Pre-norm: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd, bias=bias),
            nn.GELU(),
            nn.Linear(4 * n_embd, n_embd, bias=bias),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class CharGPT(nn.Module):
    """(B, T) token indices -> (B, T, vocab_size) next-token scores; T at most ``n_positions``.

    ``vocab`` is the text of the vocabulary (token i is ``vocab[i]``): a setting, so the saved run
    knows how to read a prompt and write what it generates without its dataset.
    """

    def __init__(
        self,
        vocab_size: int = len(SHAKESPEARE),
        n_positions: int = 64,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 128,
        dropout: float = 0.0,
        bias: bool = False,
        vocab: str = SHAKESPEARE,
    ) -> None:
        super().__init__()
        if min(vocab_size, n_positions, n_layer, n_head, n_embd) <= 0:
            raise ZooError("vocab_size, n_positions, n_layer, n_head and n_embd must be positive")
        if n_embd % n_head:
            raise ZooError(f"n_embd={n_embd} must be a multiple of n_head={n_head}")
        if vocab and len(vocab) != vocab_size:
            raise ZooError(f"vocab has {len(vocab)} characters but vocab_size is {vocab_size}")
        self.vocab, self.n_positions = vocab, n_positions
        self.tok = nn.Embedding(vocab_size, n_embd)
        self.pos = nn.Embedding(n_positions, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout, bias) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, bias=bias)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.tok.weight  # tied: one matrix reads and writes tokens
        self.apply(_init)
        for name, p in self.named_parameters():  # GPT-2: residual projections scaled by depth
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        steps = idx.shape[1]
        positions = torch.arange(steps, device=idx.device)
        x = self.drop(self.tok(idx) + self.pos(positions))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def _init(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
