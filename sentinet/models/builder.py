"""The one place a run's config and vocabulary become a classifier, for a new run and for a
saved one alike: a model option added here reaches training, resume, eval and predict at
once (sentinet.training.setup builds over the vectors' rows, sentinet.runs.weights over a
blank table that the saved weights then fill)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from sentinet.config.schema import Config
from sentinet.data.vocab import Vocab
from sentinet.labels import LabelSet
from sentinet.models.classifier import Embedder, SentimentClassifier
from sentinet.models.wide import WideNgrams


def build_model(config: Config, vocab: Vocab, pretrained: Tensor, *, freeze: bool | None = None,
                class_counts: Sequence[float] | None = None) -> SentimentClassifier:
    """A classifier shaped by ``config`` over ``pretrained`` (one row per pretrained word of
    ``vocab``), one output per class of ``config.data.labels``.

    ``freeze`` overrides ``vectors.freeze`` (a run loaded to predict never trains its table);
    ``class_counts`` shape a hierarchical head's tree (a saved run's weights bring their own).
    The layers are made in a fixed order, so a seed gives the same initial weights.

    ``train.hybrid: wide`` adds the n-gram part over ``vocab``'s words as they are now: words
    appended later (predict time) read as <unk> there. It draws no random numbers."""
    embedder = Embedder(pretrained, vocab.n_learned, config.vectors.freeze if freeze is None else freeze,
                        learn_oov=config.vectors.oov != "zero", multichannel=config.model.multichannel)
    num_classes = len(LabelSet.of(config.data.labels))
    wide = WideNgrams(vocab.words, num_classes) if config.train.hybrid == "wide" else None
    return SentimentClassifier(embedder, config.model, num_classes, class_counts, wide=wide)
