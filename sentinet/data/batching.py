"""Tensors for the model: padded batches, grouped by length but reshuffled every epoch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Sampler

from sentinet.data.vocab import PAD_ID


@dataclass
class Batch:
    ids: Tensor  # [B, T] word ids, padded with PAD_ID
    lengths: Tensor  # [B] real lengths (CPU, as pack_padded_sequence wants)
    # [B] class ids ([B, classes] 0/1 for a multi-label run, or probability rows: train.distill's
    # soft targets), None when unlabelled
    labels: Tensor | None
    index: Tensor  # [B] positions in the dataset, to put predictions back in order
    weights: Tensor | None = None  # [B] per-tweet loss weights (data.train_weights)

    def to(self, device: torch.device) -> Batch:
        labels = None if self.labels is None else self.labels.to(device)
        weights = None if self.weights is None else self.weights.to(device)
        return Batch(self.ids.to(device), self.lengths, labels, self.index, weights)


class EncodedDataset(torch.utils.data.Dataset):
    """Token ids with, for training, each text's target: a class id, a multi-label tuple, or a
    row of a [N, classes] array of probabilities (soft targets)."""

    def __init__(self, ids: Sequence[list[int]], labels: Sequence[int | tuple] | np.ndarray | None = None,
                 weights: Sequence[float] | None = None):
        self.ids = [torch.tensor(x, dtype=torch.long) for x in ids]
        self.labels = labels
        self.weights = weights

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[int, Tensor, int | None, float | None]:
        label = None if self.labels is None else self.labels[i]
        return i, self.ids[i], label, None if self.weights is None else self.weights[i]

    def lengths(self) -> list[int]:
        return [len(x) for x in self.ids]


def collate(items: list[tuple[int, Tensor, int | None, float | None]]) -> Batch:
    index, ids, labels, weights = zip(*items)
    return Batch(
        ids=pad_sequence(list(ids), batch_first=True, padding_value=PAD_ID),
        lengths=torch.tensor([len(x) for x in ids], dtype=torch.long),
        labels=_targets(labels),
        index=torch.tensor(index, dtype=torch.long),
        weights=None if weights[0] is None else torch.tensor(weights, dtype=torch.float32),
    )


def _targets(labels: tuple) -> Tensor | None:
    """Class ids [B] (long), or rows [B, classes] (float): multi-label 0/1 tuples, probability rows."""
    if labels[0] is None:
        return None
    if isinstance(labels[0], np.ndarray):
        return torch.from_numpy(np.stack(labels).astype(np.float32, copy=False))
    return torch.tensor(labels, dtype=torch.float32 if isinstance(labels[0], tuple) else torch.long)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar lengths (less padding, faster packing) in a fresh order each epoch.

    Each epoch: shuffle, cut into pools of ``pool`` batches, sort each pool by length, cut
    into batches, shuffle the batches. ``shuffle=False`` gives length-sorted batches for
    inference. The generator is owned by the sampler, so runs are reproducible.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, pool: int = 50,
                 shuffle: bool = True, seed: int = 0):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.pool = max(1, pool)
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = sorted(range(n), key=self.lengths.__getitem__)
            yield from (order[i : i + self.batch_size] for i in range(0, n, self.batch_size))
            return
        order = torch.randperm(n, generator=self.generator).tolist()
        size = self.batch_size * self.pool
        batches = []
        for start in range(0, n, size):
            chunk = sorted(order[start : start + size], key=self.lengths.__getitem__)
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]


def make_loader(dataset: EncodedDataset, batch_size: int, shuffle: bool, pool: int = 50,
                seed: int = 0) -> DataLoader:
    sampler = BucketBatchSampler(dataset.lengths(), batch_size, pool, shuffle, seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
