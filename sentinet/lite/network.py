"""A run's network in numpy: token ids → embedding rows → encoder → head → probabilities.

As sentinet.models.tables does in torch, the first layer's products with each word's vector
(a GRU's W_ih · e(w) + b_ih for every gate and direction, a CNN filter slice's dot product,
an SRU's projections) are computed once per word id, the first time the id is read, and kept
in a table that grows with the ids seen (bounded by ``max_bytes``: past it the table starts
over). Batches are the length-sorted ones predict uses, so the numbers are torch's within
float rounding (~1e-7).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from sentinet.config.schema import Config
from sentinet.data.vocab import PAD_ID
from sentinet.lite import files
from sentinet.lite.ops import blas_threads, sigmoid_, softmax

DEFAULT_MAX_BYTES = 256 * 2**20  # as sentinet.models.tables: ~340K words of a bidirectional GRU (hidden 128)


class LiteNetwork:
    """The network of one run, from its light arrays (sentinet.lite.files)."""

    def __init__(self, config: Config, arrays: dict[str, np.ndarray], max_bytes: int = DEFAULT_MAX_BYTES,
                 threads: int = 1):
        self.threads = threads  # numpy's BLAS threads while predicting (sentinet.lite.ops.blas_threads)
        self.embedding = arrays[files.EMBEDDING]  # [ids, width]
        self.dim = self.embedding.shape[1] // (2 if config.model.multichannel else 1)
        self.encoder = files.build_encoder(config, arrays)
        self.head_weight = np.ascontiguousarray(arrays["head.1.weight"].T)
        self.head_bias = arrays["head.1.bias"]
        self.num_classes = len(self.head_bias)
        self.multilabel = config.model.head == "multilabel"
        self.multichannel = config.model.multichannel
        self.max_bytes = max_bytes
        self._slots = np.full(len(self.embedding), -1, np.int64)  # id → its row of the table, -1: none yet
        self._table: np.ndarray | None = None
        self._used = 0

    @classmethod
    def load(cls, config: Config, rows: int, spec: Path, npz: Path, threads: int = 1) -> LiteNetwork:
        """The network of lite.json and lite.npz, checked against ``config`` and ``rows`` words."""
        return cls(config, files.read(config, rows, spec, npz), threads=threads)

    @property
    def rows(self) -> int:
        """Ids with a vector: the vocabulary, and the words appended since."""
        return len(self.embedding)

    def append_pretrained(self, vectors: np.ndarray) -> None:
        """Rows for words first seen at predict time (ids continue after the last row); a
        multichannel model reads the vector in both channels, as the torch Embedder does."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.multichannel:
            vectors = np.concatenate([vectors, vectors], 1)
        self.embedding = np.concatenate([self.embedding, vectors])
        self._slots = np.concatenate([self._slots, np.full(len(vectors), -1, np.int64)])

    def predict_ids(self, ids: Sequence[list[int]], batch_size: int = 256, progress: bool = False,
                    between: Callable[[], None] | None = None) -> np.ndarray:
        """Class probabilities [N, classes] of token-id lists, in input order; the batches are
        predict_ids' (sentinet.inference.predictor): the texts sorted by length, then cut."""
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        shown = batches
        if progress:
            from tqdm import tqdm  # only eval shows a bar

            shown = tqdm(batches, desc="predict", disable=None, leave=False)
        probs = np.zeros((len(ids), self.num_classes), dtype=np.float32)
        with blas_threads(self.threads):
            for batch in shown:
                probs[batch] = self.probabilities([ids[i] for i in batch])
                if between is not None:
                    between()
        return probs

    def probabilities(self, rows: list[list[int]]) -> np.ndarray:
        """One batch: a softmax over the classes, or each class's own sigmoid (multi-label)."""
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        ids = np.full((len(rows), max(int(lengths.max()), self.encoder.min_steps)), PAD_ID, np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
        table, slots = self._table_for(ids)
        with np.errstate(over="ignore"):  # σ's e^-x overflows to inf for a large negative x: σ = 0, as torch's
            pooled = self.encoder.forward(table, slots, lengths)
        scores = pooled @ self.head_weight
        scores += self.head_bias
        if not self.multilabel:
            return softmax(scores)
        with np.errstate(over="ignore"):
            return sigmoid_(scores)

    def _table_for(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The table and each id's row of it, the rows of ids new to it computed now."""
        missing = ids[self._slots[ids] < 0]
        if len(missing):
            mark = np.zeros(len(self._slots), dtype=bool)  # not np.unique: it imports numpy.ma (~40 ms)
            mark[missing] = True
            new = np.flatnonzero(mark)
            rows = self.encoder.input_table(self.embedding[new])
            if self._table is not None and (self._used + len(new)) * rows.shape[1] * 4 > self.max_bytes:
                self._slots[:] = -1  # full: start over with this batch's words
                self._table, self._used = None, 0
                return self._table_for(ids)
            self._grow(len(new), rows.shape[1])
            self._table[self._used:self._used + len(new)] = rows
            self._slots[new] = np.arange(self._used, self._used + len(new))
            self._used += len(new)
        return self._table, self._slots[ids]

    def _grow(self, more: int, width: int) -> None:
        """Room for ``more`` rows: at first for every id there is (within the bound; np.empty
        takes memory only as rows are written), then grown by half again (amortised copies)."""
        have = 0 if self._table is None else len(self._table)
        if self._used + more <= have:
            return
        first = min(self.rows, self.max_bytes // (4 * width)) if self._table is None else 0
        grown = np.empty((max(self._used + more, have + have // 2, first, 64), width), np.float32)
        if self._table is not None:
            grown[:self._used] = self._table[:self._used]
        self._table = grown
