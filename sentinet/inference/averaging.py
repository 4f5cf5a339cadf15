"""An ensemble's members averaged — runs (torch or the light engine), baseline runs — and
decided by the rule saved beside them: one class for every engine, with no torch of its own
(sentinet.inference.opener gives it its members and, for torch runs, their thread governor)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from sentinet.config.schema import Config
from sentinet.errors import SentinetError
from sentinet.evaluation.decision import decide
from sentinet.inference.protocol import GradientInput, Predictor
from sentinet.labels import Label, LabelSet
from sentinet.runs import rundir
from sentinet.runtime.threads import ThreadGovernor


@runtime_checkable
class Tokenised(Protocol):
    """A member that can label texts another member already tokenised (a run: torch or
    light); a baseline is not one, it reads the texts itself."""

    config: Config

    def tokenizer(self, text: str) -> list[str]: ...

    def predict_tokens(self, tokens: list[list[str]], batch_size: int = 256, progress: bool = True,
                       between: Callable[[], None] | None = None) -> np.ndarray: ...


class EnsemblePredictor:
    """An ensemble directory (a ``--seeds``/``--folds`` group, a ``sentinet ensemble``): its
    members' probabilities averaged (by ensemble.json's weights when it has them), decided by
    the rule (per-class bias) saved beside them. A member is a run or a ``sentinet baseline``
    run; ``threads`` is the torch runs' governor (None: fixed threads, a GPU, or no torch)."""

    def __init__(self, path: Path, members: Sequence[Predictor], threads: ThreadGovernor | None = None,
                 weights: Sequence[float] | None = None):
        self.path = path
        self.members = list(members)
        self.classes: LabelSet = members[0].classes
        for m in members[1:]:
            if m.classes != self.classes:
                raise SentinetError(f"{path}: member {m.path} has labels {list(m.classes.values)}, "
                                    f"not {list(self.classes.values)}: members must share one label set")
        if weights is not None and len(weights) != len(members):
            raise SentinetError(f"{path}: {len(weights)} weights for {len(members)} members")
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)  # None: equal
        self.config: Config = members[0].config
        self.run_dirs: list[Path] = [d for m in members for d in m.run_dirs]
        self.bias = rundir.load_decision(path, len(self.classes))
        self.threads = threads

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256, progress: bool = True) -> np.ndarray:
        """Each member's probabilities, averaged. Runs that tokenise alike (a ``--seeds`` group:
        one config) share one tokenisation of the texts; a baseline member reads them itself."""
        between = self.threads.tick if self.threads is not None else None
        tokenised: dict[str, list[list[str]]] = {}
        rows = []
        for m in self.members:
            if isinstance(m, Tokenised):
                key = repr(m.config.tokenizer)
                if key not in tokenised:
                    tokenised[key] = [m.tokenizer(t) for t in texts]
                rows.append(m.predict_tokens(tokenised[key], batch_size, progress, between))
            else:
                rows.append(m.predict_proba(texts, batch_size, progress))
        return self._average(rows)

    def _average(self, rows: list[np.ndarray]) -> np.ndarray:
        """The members' rows averaged: plainly (float32 stays float32, as ever) or by weight."""
        if self.weights is None:
            return np.mean(rows, axis=0)
        return np.average(rows, axis=0, weights=self.weights)

    def labels(self, probs: np.ndarray) -> list[Label]:
        return decide(probs, self.classes, self.bias)

    def tokenize(self, text: str) -> list[str]:
        return self.members[0].tokenize(text)

    def add_unseen_words(self, tokens: list[list[str]]) -> None:
        for m in self.members:
            m.add_unseen_words(tokens)

    def occlusion_probabilities(self, tokens: list[str]) -> np.ndarray:
        return self._average([m.occlusion_probabilities(tokens) for m in self.members])

    def gradient_inputs(self, tokens: list[str]) -> list[GradientInput]:
        """Each member's network, read with its own vocabulary (a baseline member refuses: it has
        no gradient to follow)."""
        return [one for m in self.members for one in m.gradient_inputs(tokens)]

    def close(self) -> None:
        """Nothing to release: the run directories stay the user's."""
