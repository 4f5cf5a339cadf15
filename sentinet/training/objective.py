"""What a training step minimises: the classification loss, plus (``train.aux_lm``) a
language-model loss on the encoder's per-token states.

Multitask learning after Rei (2017) and ELMo: the forward states at each token predict the
next word and the backward states the previous one, over the labelled batch and, when
``data.unlabeled`` names files, over a batch of unlabelled texts too. The encoder then has to
represent what a tweet says, not only which label it got — the point being that this holds up
better on next year's tweets. The LM output is a full softmax or a hierarchical one over the
``vocab_size`` most frequent words (the rest are one ``<other>`` class). The LM weights live
here, not in the classifier, so ``model.pt`` and inference never see them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentinet.config.schema import AuxLMConfig
from sentinet.data.batching import Batch, EncodedDataset, make_loader
from sentinet.data.vocab import PAD_ID, UNK_ID
from sentinet.errors import SentinetError
from sentinet.models.hsoftmax import HierarchicalSoftmax
from sentinet.models.pooling import length_mask

OTHER = 0  # the LM class of every word outside the predicted vocabulary (and of <unk>)


class ClassificationObjective(nn.Module):
    """The plain objective: the classifier's loss, no parameters of its own."""

    def __init__(self, loss_fn: nn.Module):
        super().__init__()
        self.loss_fn = loss_fn

    def forward(self, model: nn.Module, batch: Batch) -> Tensor:
        return self.loss_fn(model(batch.ids, batch.lengths), batch.labels, batch.weights)

    def start_epoch(self) -> None:
        """Called before each epoch's first batch."""

    def epoch_stats(self) -> dict:
        """Per-epoch numbers for the epoch's metrics row (none here)."""
        return {}


class LanguageModelHead(nn.Module):
    """Per-direction token states → log p(neighbouring word) over the LM vocabulary."""

    def __init__(self, hidden: int, counts: Sequence[float], softmax: str):
        super().__init__()
        self.hierarchical = softmax == "hierarchical"
        self.output = HierarchicalSoftmax(hidden, counts) if self.hierarchical else nn.Linear(hidden, len(counts))

    def log_prob(self, states: Tensor, targets: Tensor) -> Tensor:
        """[N, hidden] states and [N] LM classes → [N] log-probabilities of those classes."""
        if self.hierarchical:
            return self.output.log_prob(states, targets)
        return -F.cross_entropy(self.output(states), targets, reduction="none")


def lm_vocabulary(ids: Sequence[Sequence[int]], vocab_size: int, min_count: int,
                  n_words: int) -> tuple[Tensor, list[int]]:
    """A table from vocabulary ids to LM classes (the ``vocab_size - 1`` most frequent words
    seen ``min_count`` times, then <other>), and each class's count (the Huffman tree's)."""
    counts = Counter(i for row in ids for i in row)
    top = [i for i, c in counts.most_common() if c >= min_count and i not in (PAD_ID, UNK_ID)][: vocab_size - 1]
    table = torch.full((n_words,), OTHER, dtype=torch.long)
    table[torch.tensor(top, dtype=torch.long)] = torch.arange(1, len(top) + 1)
    other = sum(counts.values()) - sum(counts[i] for i in top)
    return table, [max(other, 1)] + [counts[i] for i in top]


class MultitaskObjective(ClassificationObjective):
    """Classification loss + ``weight`` × the language-model loss of the same batch (and of
    one unlabelled batch per step, when there are unlabelled texts)."""

    def __init__(self, loss_fn: nn.Module, cfg: AuxLMConfig, encoder: nn.Module, n_words: int,
                 train_ids: Sequence[list[int]], unlabeled_ids: Sequence[list[int]],
                 batch_size: int, pool: int, seed: int):
        super().__init__(loss_fn)
        if not getattr(encoder, "token_states", False):
            raise SentinetError(f"train.aux_lm: the {type(encoder).__name__} has no per-token states "
                                "to predict words from; use a recurrent encoder (rnn, lstm, gru, sru)")
        self.weight, self.directions = cfg.weight, encoder.directions
        self.hidden = encoder.output_dim // self.directions
        table, counts = lm_vocabulary([*train_ids, *unlabeled_ids], cfg.vocab_size, cfg.min_count, n_words)
        if len(counts) < 2:
            raise SentinetError("train.aux_lm: no word occurs train.aux_lm.min_count times; nothing to predict")
        self.register_buffer("classes", table)
        self.lm = LanguageModelHead(self.hidden, counts, cfg.softmax)
        self.unlabeled = None
        if unlabeled_ids:
            self.unlabeled = make_loader(EncodedDataset(unlabeled_ids), batch_size, shuffle=True,
                                         pool=pool, seed=seed + 1)
        self._batches: Iterator[Batch] | None = None
        self._total, self._count = 0.0, 0

    def forward(self, model: nn.Module, batch: Batch) -> Tensor:
        logits, states = model(batch.ids, batch.lengths, states=True)
        loss = self.loss_fn(logits, batch.labels, batch.weights)
        lm = self.lm_loss(states, batch.ids, batch.lengths)
        if self.unlabeled is not None:
            extra = self._next_unlabeled().to(batch.ids.device)
            _, extra_states = model(extra.ids, extra.lengths, states=True)
            lm = (lm + self.lm_loss(extra_states, extra.ids, extra.lengths)) / 2
        self._total, self._count = self._total + lm.item(), self._count + 1
        return loss + self.weight * lm

    def lm_loss(self, states: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        """Mean negative log-likelihood of each word's neighbours: the next word from the
        forward states, the previous word from the backward ones."""
        targets = self.classes[ids]
        mask = length_mask(lengths.to(ids.device), ids.size(1))
        pairs = [(states[:, :-1, : self.hidden], targets[:, 1:], mask[:, 1:])]  # state t → word t+1
        if self.directions == 2:  # state t (having read t..end) → word t-1
            pairs.append((states[:, 1:, self.hidden :], targets[:, :-1], mask[:, 1:]))
        hidden = torch.cat([s[m] for s, _, m in pairs])
        words = torch.cat([t[m] for _, t, m in pairs])
        if not len(words):
            return states.sum() * 0  # one-word texts only: nothing to predict
        return -self.lm.log_prob(hidden, words).mean()

    def _next_unlabeled(self) -> Batch:
        batch = next(self._batches, None) if self._batches is not None else None
        if batch is None:  # a new pass over the unlabelled texts
            self._batches = iter(self.unlabeled)
            batch = next(self._batches)
        return batch

    def start_epoch(self) -> None:
        self._batches = None  # each epoch starts a fresh pass: resume then replays it exactly
        self._total, self._count = 0.0, 0

    def epoch_stats(self) -> dict:
        return {"lm_loss": self._total / max(self._count, 1)}

    def sampler_state(self) -> Tensor | None:
        return None if self.unlabeled is None else self.unlabeled.batch_sampler.generator.get_state()

    def set_sampler_state(self, state: Tensor | None) -> None:
        if self.unlabeled is not None and state is not None:
            self.unlabeled.batch_sampler.generator.set_state(state)


def build_objective(loss_fn: nn.Module, cfg: AuxLMConfig, model: nn.Module, n_words: int,
                    train_ids: Sequence[list[int]], unlabeled_ids: Sequence[list[int]],
                    batch_size: int, pool: int, seed: int) -> ClassificationObjective:
    if cfg.weight == 0:
        return ClassificationObjective(loss_fn)
    return MultitaskObjective(loss_fn, cfg, model.encoder, n_words, train_ids, unlabeled_ids,
                              batch_size, pool, seed)
