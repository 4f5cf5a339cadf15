"""The one interface of a loaded model, whatever is at its path: a run, an ensemble of runs
(a ``--seeds``/``--folds`` group or a ``sentinet ensemble``), an export archive or a
``sentinet baseline`` run. eval, predict, explain, serve and ``sentinet.api`` use nothing
else, so none of them asks which kind it holds (``sentinet.inference.opener`` alone decides
that, once, when the path is opened).

No torch here: a baseline satisfies it without torch ever loading.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

import numpy as np

from sentinet.config.schema import Config
from sentinet.labels import Label, LabelSet
from sentinet.runtime.threads import ThreadGovernor

if TYPE_CHECKING:
    import torch

    from sentinet.models.classifier import SentimentClassifier

# What integrated gradients differentiate: a network, the token ids it reads, its device.
GradientInput: TypeAlias = "tuple[SentimentClassifier, list[int], torch.device]"


@runtime_checkable
class Predictor(Protocol):
    """A model ready to label text. Every attribute is present on every kind (a single model's
    ``members`` is empty, a baseline's ``threads`` None): callers never probe for them."""

    @property
    def path(self) -> Path:
        """What was opened: the run or ensemble directory, the baseline run, the archive."""

    @property
    def classes(self) -> LabelSet:
        """The labels, in the column order of ``predict_proba``."""

    @property
    def config(self) -> Config:
        """The run's config (an ensemble's first member's: how its data is read)."""

    @property
    def members(self) -> Sequence[Predictor]:
        """The runs whose probabilities an ensemble averages; empty for a single model."""

    @property
    def run_dirs(self) -> list[Path]:
        """The run directories behind the predictions (an archive's, where it was unpacked):
        their metrics.json holds the training class counts the prevalence EM starts from."""

    @property
    def threads(self) -> ThreadGovernor | None:
        """The governor that gives torch the CPU cores other processes leave free, ticked
        between batches; None when the thread count was fixed, on a GPU, or without torch."""

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256, progress: bool = True) -> np.ndarray:
        """Class probabilities [N, classes], in input order."""

    def labels(self, probs: np.ndarray) -> list[Label]:
        """The decision rule saved with the model (argmax plus any tuned bias) on probabilities."""

    def tokenize(self, text: str) -> list[str]:
        """The tokens the model reads (an ensemble's: its first member's)."""

    def add_unseen_words(self, tokens: list[list[str]]) -> None:
        """Give words training never showed their pretrained vectors, as predict does before
        it reads them (nothing to do for a model without word vectors)."""

    def occlusion_probabilities(self, tokens: list[str]) -> np.ndarray:
        """[N + 1, classes]: row 0 the tokens as they are (predict's numbers to the bit), row
        i + 1 with token i made a word the model knows nothing about."""

    def gradient_inputs(self, tokens: list[str]) -> list[GradientInput]:
        """What integrated gradients differentiate, one per network averaged; a model that has
        no gradient to follow (a linear baseline, int8 layers) refuses in one line."""

    def close(self) -> None:
        """Release what opening made (an archive's unpacked folder); a no-op otherwise."""
