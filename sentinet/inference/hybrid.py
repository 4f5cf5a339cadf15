"""A hybrid run (``train.hybrid: blend``): the network's probabilities averaged with those of
a linear part, the TF-IDF baseline fitted on exactly the run's training split. The two make
different mistakes (word and character n-grams against word vectors and order), so the
average is rarely worse than the better part, and the run is never left with less than the
baseline it ships.

The network's share of the average is chosen on dev from ``train.hybrid_shares`` (``GRID``
by default) by the run's selection
metric and saved in ``hybrid.json`` (its ends, 0 and 1, keep one part alone where dev says the
blend does not pay, so a hybrid is never worse on dev than either part); the linear part is the baseline's own files under other
names (``linear.json``, ``linear.npz``: data, never a pickle). Training writes them
(sentinet.training.hybrid); ``RunPredictor`` reads them, so eval, predict, explain, serve,
export and ensembles take a hybrid run as one model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentinet.baseline import LinearModel, load
from sentinet.errors import SentinetError
from sentinet.evaluation.decision import decide
from sentinet.labels import LabelSet
from sentinet.runs import rundir

KIND = "blend"
# The network's shares tried by default (train.hybrid_shares); a tie goes to the share nearest
# 0.5. The ends keep one part alone when dev says blending does not pay (1.0: the network;
# 0.0: the baseline it would lose to).
GRID = (0.0, 0.3, 0.5, 0.7, 1.0)
LINEAR_FILES = (rundir.LINEAR_JSON, rundir.LINEAR_NPZ)


def blend(neural: np.ndarray, linear: np.ndarray, weight: float) -> np.ndarray:
    """The weighted average of the two parts' probabilities (rows still sum to 1)."""
    return weight * np.asarray(neural, dtype=np.float64) + (1.0 - weight) * np.asarray(linear, dtype=np.float64)


def choose_weight(neural: np.ndarray, linear: np.ndarray, gold: list[dict], classes: LabelSet,
                  metric: str, shares: Sequence[float] = GRID) -> tuple[float, list[dict]]:
    """The best of ``shares`` on dev (plain argmax decisions, the run's metric) and every
    share's scores; ties go to the share nearest 0.5, then to the smaller one."""
    from sentinet.evaluation.metrics import scores

    grid = []
    for weight in sorted(set(float(w) for w in shares)):
        s = scores(gold, decide(blend(neural, linear, weight), classes), classes, metric)
        grid.append({"neural_weight": weight, **{k: v for k, v in s.items() if k != "pairs"}})
    best = max(grid, key=lambda row: (row["score"], -abs(row["neural_weight"] - 0.5), -row["neural_weight"]))
    return best["neural_weight"], grid


def write_hybrid(run_dir: Path, linear: LinearModel, C: float, classes: list, weight: float) -> None:
    """The linear part's files, then hybrid.json: what makes the run a hybrid comes last."""
    import json

    from sentinet.baseline import save
    from sentinet.fileio import atomic_write_text

    save(linear, C, classes, run_dir, LINEAR_FILES)
    atomic_write_text(run_dir / rundir.HYBRID, json.dumps({"kind": KIND, "neural_weight": weight}))


@dataclass
class Blend:
    """A run's linear part and the network's share of the average."""

    weight: float  # the network's share
    linear: LinearModel

    def mix(self, neural: np.ndarray, tokens: list[list[str]]) -> np.ndarray:
        """The hybrid's probabilities of texts from the network's and their tokens."""
        return blend(neural, self.linear.predict([" ".join(t) for t in tokens]), self.weight)

    def mix_occlusion(self, neural_rows: np.ndarray, tokens: list[str]) -> np.ndarray:
        """Occlusion over the whole hybrid: each part occludes the token its own way (the
        network reads <unk>, the n-grams lose the token), rows averaged with the run's share."""
        return blend(neural_rows, self.linear.occlusion(tokens), self.weight)


def load_blend(run_dir: Path, n_classes: int) -> Blend | None:
    """The run's linear part and share, or None for a run without one (every run trained
    before hybrids existed). A damaged file is one line naming it."""
    path = run_dir / rundir.HYBRID
    if not path.is_file():
        return None

    def pick(spec):
        weight = spec["neural_weight"]
        if spec["kind"] != KIND or isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                or not 0 <= weight <= 1:
            raise ValueError(f"expected kind {KIND!r} and a neural_weight from 0 to 1")
        return float(weight)

    weight = rundir.read_json(path, "hybrid settings", pick)
    linear, _ = load(run_dir, LINEAR_FILES)
    if linear.n_classes != n_classes:
        raise SentinetError(f"{run_dir / rundir.LINEAR_JSON}: {linear.n_classes} classes, the network "
                            f"{n_classes}")
    return Blend(weight, linear)
