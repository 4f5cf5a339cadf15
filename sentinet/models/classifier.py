"""Word ids → vectors → encoder → dropout + linear head → one logit per class."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sentinet.config.schema import ModelConfig
from sentinet.data.vocab import PAD_ID, UNK_ID
from sentinet.models import build_encoder
from sentinet.models.hsoftmax import HierarchicalSoftmax


class Embedder(nn.Module):
    """Two tables behind one id space: ids below ``n_learned`` are trainable rows (<pad>,
    <unk>, out-of-vocabulary words), the rest are pretrained vectors, frozen by default.

    Keeping them apart means weight decay or an optimizer can never move a frozen vector,
    and predict time can append pretrained rows for unseen words without touching the rest.
    """

    def __init__(self, pretrained: Tensor, n_learned: int, freeze: bool, learn_oov: bool,
                 multichannel: bool = False):
        super().__init__()
        dim = pretrained.size(1)
        self.n_learned = n_learned
        self.learned = nn.Embedding(n_learned, dim, padding_idx=0)
        nn.init.normal_(self.learned.weight, std=0.1)
        with torch.no_grad():
            self.learned.weight[0].zero_()
        self.learned.weight.requires_grad_(learn_oov)
        if not learn_oov:
            nn.init.zeros_(self.learned.weight)
        rows = pretrained if len(pretrained) else torch.zeros(1, dim)  # keep the table valid
        self.pretrained = nn.Embedding.from_pretrained(rows.float(), freeze=freeze)
        # Multichannel (Kim 2014): a trainable copy of every row, output beside the static one.
        self.dynamic = None
        if multichannel:
            initial = torch.cat([self.learned.weight.detach(), rows.float()])
            self.dynamic = nn.Embedding.from_pretrained(initial.clone(), freeze=False, padding_idx=0)

    @property
    def dim(self) -> int:
        """Size of one vector (of the pretrained table)."""
        return self.learned.embedding_dim

    @property
    def output_dim(self) -> int:
        return self.dim * (2 if self.dynamic is not None else 1)

    def forward(self, ids: Tensor) -> Tensor:
        is_learned = (ids < self.n_learned).unsqueeze(-1)
        learned = self.learned(ids.clamp(max=self.n_learned - 1))
        pretrained = self.pretrained((ids - self.n_learned).clamp(min=0))
        static = torch.where(is_learned, learned, pretrained)
        return static if self.dynamic is None else torch.cat([static, self.dynamic(ids)], -1)

    def append_pretrained(self, vectors: Tensor) -> None:
        """Add rows for words first seen at predict time (ids continue after the last row)."""
        self.pretrained = _grown(self.pretrained, vectors)
        if self.dynamic is not None:
            self.dynamic = _grown(self.dynamic, vectors)


def _grown(table: nn.Embedding, rows: Tensor) -> nn.Embedding:
    weight = table.weight
    grown = torch.cat([weight.data, rows.to(weight.device, weight.dtype)])
    return nn.Embedding.from_pretrained(grown, freeze=not weight.requires_grad,
                                        padding_idx=table.padding_idx)


class SentimentClassifier(nn.Module):
    """Embedder → encoder → dropout + head: one score per class of the run's label set
    (logits from the linear head; log-probabilities from the hierarchical one, which a
    softmax leaves as they are). With a ``wide`` part (train.hybrid: wide,
    sentinet.models.wide), its scores over the same ids are added: logits either way."""

    def __init__(self, embedder: Embedder, config: ModelConfig, num_classes: int,
                 class_counts: Sequence[float] | None = None, wide: nn.Module | None = None):
        super().__init__()
        self.embedder = embedder
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = build_encoder(config.encoder, embedder.output_dim)
        if config.head == "hierarchical":  # counts shape the tree; a loaded state brings its own
            output = HierarchicalSoftmax(self.encoder.output_dim, class_counts or [1] * num_classes)
        else:
            output = nn.Linear(self.encoder.output_dim, num_classes)
        self.head = nn.Sequential(nn.Dropout(config.head_dropout), output)
        self.num_classes = num_classes
        self.multilabel = config.head == "multilabel"  # one sigmoid per class, not a softmax
        self.head_max_norm = config.head_max_norm
        self.word_dropout = config.word_dropout
        self.wide = wide  # train.hybrid: wide (sentinet.models.wide), else None

    def forward(self, ids: Tensor, lengths: Tensor, states: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Class scores; with ``states``, also the encoder's per-token states [B, T, H]
        (what the auxiliary language model reads). The wide part reads the ids after word
        dropout: a dropped word loses its n-grams too, as it would if it were unknown."""
        if self.training and self.word_dropout > 0:  # whole words → <unk>, padding untouched
            drop = (torch.rand(ids.shape, device=ids.device) < self.word_dropout) & (ids != PAD_ID)
            ids = ids.masked_fill(drop, UNK_ID)
        vectors = self.embedding_dropout(self.embedder(ids))
        if not states:
            return self.scores_from(self.encoder(vectors, lengths), ids, lengths)
        pooled, token_states = self.encoder(vectors, lengths, states=True)
        return self.scores_from(pooled, ids, lengths), token_states

    def scores_from(self, pooled: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        """The head (and wide part) on the encoder's tweet vectors: shared with the
        frozen-input tables' path (sentinet.models.tables)."""
        return self._plus_wide(self.head(pooled), ids, lengths)

    def probabilities(self, scores: Tensor) -> Tensor:
        """Class probabilities from forward()'s scores: a softmax over the classes, or for a
        multi-label head each class's own sigmoid."""
        return torch.sigmoid(scores) if self.multilabel else torch.softmax(scores, dim=-1)

    def _plus_wide(self, scores: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        return scores if self.wide is None else scores + self.wide(ids, lengths)

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Called after every optimizer step: Kim's max-norm on each class's head weights."""
        if self.head_max_norm and isinstance(self.head[-1], nn.Linear):
            weight = self.head[-1].weight
            weight.copy_(torch.renorm(weight, p=2, dim=0, maxnorm=self.head_max_norm))
