"""Inference from frozen-input tables: what an encoder's first layer computes from one word's
vector alone, computed once per word instead of once per occurrence.

At inference every embedding row is fixed (a frozen pretrained vector, a learned OOV row, a
multichannel pair alike), so the first layer's input projection — a GRU/LSTM/RNN's
``W_ih · e(w) + b_ih`` for all gates and both directions, an SRU's projections, each CNN
filter offset's dot product with ``e(w)`` — is a function of the word id. A
``TabledClassifier`` keeps those products in one table ``[ids, K]``, grown lazily as ids
appear (words first seen at predict time are appended to the vocabulary in order, so the
table only ever holds words actually read), and the encoder gathers a batch's rows in the
order its loop wants them and runs the rest from there (``encoder.forward_table``), then the
run's own head and wide part.

An encoder takes part by defining ``input_table(vectors [V, D]) -> [V, K]`` and
``forward_table(table [V, K], ids [B, T], lengths) -> [B, output_dim]`` (equal to ``forward`` in eval
mode within float rounding: the products are blocked differently, ~1e-6). Outputs are
compared with the ordinary path on every encoder in tests/models/test_input_tables*.py.

The table is bounded (``max_bytes``): ids past it get their rows computed per batch, so a
stream of a million texts with ever new words cannot grow memory without end.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from sentinet.models.classifier import SentimentClassifier

DEFAULT_MAX_BYTES = 256 * 2**20  # ~340K words of a bidirectional GRU (hidden 128)
CHUNK = 8192  # rows built per step: bounds the temporary [chunk, D] and [chunk, K]


def supports(model: SentimentClassifier, device: torch.device) -> bool:
    """Whether predict should run ``model`` from tables: on the CPU (a GPU's fused cuDNN
    layers already beat a per-step loop), its encoder defines them, no layer was swapped for
    a dynamic int8 one (those compute from quantised weights on the fly), and
    ``SENTINET_TABLES=0`` does not turn them off (benchmarks compare both paths)."""
    if device.type != "cpu" or os.environ.get("SENTINET_TABLES", "1") == "0":
        return False
    if not hasattr(model.encoder, "forward_table"):
        return False
    return not any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())


class TabledClassifier(nn.Module):
    """``model`` in eval mode, read through its encoder's input table: same scores, fewer
    products. Holds no copy of the model's weights; the table is derived and rebuilt on
    demand (``reset``), never saved."""

    def __init__(self, model: SentimentClassifier, max_bytes: int = DEFAULT_MAX_BYTES):
        super().__init__()
        self.model = model.eval()
        self.max_bytes = max_bytes
        self.table: Tensor | None = None  # [rows covered, K], built on the first batch
        self._limit = 0  # rows the bound allows, known once the first row gives K

    @property
    def num_classes(self) -> int:
        return self.model.num_classes

    def probabilities(self, scores: Tensor) -> Tensor:
        return self.model.probabilities(scores)

    def reset(self) -> None:
        """Forget the table (the model's weights changed)."""
        self.table = None

    @property
    def nbytes(self) -> int:
        """What the table holds now (the benchmark reports it)."""
        return 0 if self.table is None else self.table.numel() * self.table.element_size()

    @torch.inference_mode()
    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        table, local = self.table_for(ids)
        pooled = self.model.encoder.forward_table(table, local, lengths)
        return self.model.scores_from(pooled, ids, lengths)

    def table_for(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """A table and ids into it for the batch ``ids`` [B, T]: the whole table when it
        covers them, else a batch-sized one (the covered rows copied, the rest computed)."""
        top = int(ids.max()) if ids.numel() else 0
        limit = self._cover(top + 1, ids.device)
        if top < limit:
            return self.table, ids
        unique, local = torch.unique(ids, return_inverse=True)
        inside = unique < limit
        rows = self.table.new_empty(len(unique), self.table.size(1))
        rows[inside] = self.table[unique[inside]]
        rows[~inside] = self._products(unique[~inside])
        return rows, local

    def _cover(self, wanted: int, device: torch.device) -> int:
        """Grow the table to ``wanted`` rows where the bound allows; returns its size."""
        if self.table is None:
            width = self._products(torch.zeros(1, dtype=torch.long, device=device)).size(1)
            self._limit = max(1, self.max_bytes // (4 * width))
        have = 0 if self.table is None else len(self.table)
        if min(wanted, self._limit) > have:
            # Grown by at least half again: a few unseen words per batch stay linear work.
            target = min(max(wanted, have + have // 2), self._limit, self._vocab_rows())
            parts = [] if self.table is None else [self.table]
            for a in range(have, target, CHUNK):
                parts.append(self._products(torch.arange(a, min(a + CHUNK, target), device=device)))
            self.table = torch.cat(parts) if len(parts) > 1 else parts[0]
        return len(self.table)

    def _vocab_rows(self) -> int:
        """Ids the embedder has rows for now (learned ones, then pretrained)."""
        embedder = self.model.embedder
        return embedder.n_learned + embedder.pretrained.num_embeddings

    def _products(self, ids: Tensor) -> Tensor:
        return self.model.encoder.input_table(self.model.embedder(ids))
