"""Soft targets for knowledge distillation (``train.distill``): an ensemble's probabilities over
the run's training texts, and over unlabelled texts it adds, which the run learns in place of
the gold labels (Hinton et al. 2015), so that one model predicts almost as well as the ensemble
at a fraction of its cost. Dev and model selection stay the gold labels', so the run's dev
score compares with the ensemble's (in its metrics.json, kept beside the run's own).

The targets are recomputed from the ensemble whenever the run is prepared (a ``--resume``
too), so a run's config.yaml is all it needs: no probabilities are stored with it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentinet.config.schema import Config
from sentinet.data.readers import Record
from sentinet.errors import SentinetError
from sentinet.evaluation.metrics import KEYS, metric_name, score_of
from sentinet.labels import LabelSet
from sentinet.runs import rundir
from sentinet.runs.archive import is_archive

if TYPE_CHECKING:  # torch and sklearn: imported where used, after the checks run
    from sentinet.data.batching import EncodedDataset
    from sentinet.data.training_data import TrainingData


@dataclass
class SoftTargets:
    """What the run learns instead of the gold labels, and what metrics.json says about it."""

    rows: np.ndarray  # [training texts + extra texts, classes]: data.train's order, then the extra texts
    extra_tokens: list[list[str]]  # the unlabelled texts, tokenised: trained on after data.train's
    record: dict  # metrics.json's "distillation": the ensemble, its dev scores, temperature, counts


def check_teacher(path: Path, key: str = "") -> Path:
    """``path`` as a finished ensemble directory (resolved); anything else is one line, said
    before torch is imported. ``key`` (a config key) prefixes the message."""
    where = f"{key}: {path}" if key else str(path)
    if not os.path.lexists(path):
        raise SentinetError(f"{where}: no such ensemble directory")
    if is_archive(path):
        raise SentinetError(f"{where}: an export archive; give the ensemble directory it was exported from")
    if not path.is_dir() or not (path / rundir.ENSEMBLE).is_file():
        single = (path / rundir.CONFIG).is_file() or path.name == rundir.WEIGHTS
        what = "a single run" if single else "not an ensemble directory"
        raise SentinetError(f"{where}: {what} (no {rundir.ENSEMBLE}); distillation learns from an ensemble: "
                            "train one with --seeds N, or combine runs with sentinet ensemble RUN... -o DIR")
    why = rundir.status(path)
    if why is not None:
        raise SentinetError(f"{where}: an incomplete ensemble ({why}); finish it first: {rundir.hint(path)}")
    return path.resolve()


def soft_targets(config: Config, data: TrainingData, tokenizer: Callable[[str], list[str]],
                 log: Callable[[str], None]) -> SoftTargets | None:
    """train.distill: the ensemble's probabilities over data.train's texts and the unlabelled
    texts (softened by the temperature), in the run's class order; None when not distilling."""
    d = config.train.distill
    if not d.teacher:
        if d.unlabeled or d.temperature != 1:
            log("train.distill: temperature and unlabeled apply only with train.distill.teacher: not used")
        return None
    teacher_dir = check_teacher(Path(d.teacher), "train.distill.teacher")
    scored = ensemble_dev(teacher_dir)  # its metrics.json read before the long part
    extra = _unlabelled(config, data, log)
    from sentinet.inference.opener import open_predictor

    teacher = open_predictor(teacher_dir, config.train.device, threads=config.train.num_threads)
    order = _class_order(teacher.classes, data.labels, teacher_dir)
    texts = [r.text for r, _ in data.train] + [r.text for r in extra]
    count = len(teacher.members) or 1
    log(f"distill: the {count} members of the ensemble {teacher_dir} label {len(data.train)} training texts"
        + (f" and {len(extra)} unlabelled ones" if extra else "")
        + f" (temperature {d.temperature:g}); the run learns their probabilities, dev keeps its gold labels")
    probs = np.asarray(teacher.predict_proba(texts, progress=True), dtype=np.float64)[:, order]
    teacher.close()
    rows = temper(probs, d.temperature, data.labels.multilabel).astype(np.float32)
    record = {"from": str(teacher_dir), "members": count, "temperature": d.temperature,
              "texts": len(data.train), "unlabelled_texts": len(extra), **scored}
    if record.get("ensemble_dev_note"):
        log(f"distill: the ensemble's dev score: {record['ensemble_dev_note']}")
    return SoftTargets(rows, [tokenizer(r.text) for r in extra], record)


def temper(probs: np.ndarray, temperature: float, multilabel: bool) -> np.ndarray:
    """Probabilities softened by ``temperature``: softmax(log p / T) per row, or for a
    multi-label head sigmoid(logit(p) / T) per class; 1 leaves them as they are."""
    if temperature == 1:
        return probs
    if multilabel:
        p = np.clip(probs, 1e-7, 1 - 1e-7)
        return 1 / (1 + np.exp(-(np.log(p) - np.log1p(-p)) / temperature))
    z = np.log(np.clip(probs, 1e-12, None)) / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def training_set(data: TrainingData, train_ids: Sequence[list[int]], soft: SoftTargets | None) -> EncodedDataset:
    """The examples a run's loader draws: data.train's texts with their class ids and file
    weights; distilling, each with its probability row instead, then the unlabelled texts (weight 1)."""
    from sentinet.data.batching import EncodedDataset  # torch: this module's checks run before it

    weights = data.weights + [1.0] * (len(train_ids) - len(data.weights))
    targets = [c for _, c in data.train] if soft is None else soft.rows
    return EncodedDataset(train_ids, targets, None if set(weights) == {1.0} else weights)


def ensemble_dev(teacher_dir: Path) -> dict:
    """The ensemble's dev scores from its metrics.json (``ensemble_dev``; None when it was not
    scored) and, when they need one, a note on what they are."""
    metrics = rundir.read_metrics(teacher_dir)
    scores = metrics.get("ensemble")
    found: dict = {"ensemble_dev": scores if isinstance(scores, dict) else None}
    if found["ensemble_dev"] is None:
        note = (metrics.get("dev") or {}).get("note") if isinstance(metrics.get("dev"), dict) else None
        found["ensemble_dev_note"] = f"not scored on dev ({note or 'its metrics.json has none'})"
    elif metrics.get("folds"):
        found["ensemble_dev_note"] = (f"out-of-fold over {metrics['folds']} folds (each text scored by the fold "
                                      "model that did not train on it); this run's dev is its config's fold, "
                                      "which the other fold models trained on")
    return found


def _unlabelled(config: Config, data: TrainingData, log: Callable[[str], None]) -> list[Record]:
    """train.distill.unlabeled's texts, minus the dev texts (dev stays unseen, even unlabelled)
    and, under a temporal split, the dev period's."""
    paths = config.train.distill.unlabeled
    if not paths:
        return []
    from sentinet.data.training_data import read_unlabeled

    records, dropped = read_unlabeled(config.data, data.dev_window, paths)
    dev = {r.text for r in data.dev}
    kept = [r for r in records if r.text not in dev]
    if len(kept) < len(records) or dropped:
        log(f"distill: {len(records) - len(kept)} unlabelled texts that are dev texts left out"
            + (f", and {dropped} from the dev period" if dropped else ""))
    return kept


def _class_order(theirs: LabelSet, ours: LabelSet, teacher_dir: Path) -> list[int]:
    """For each of the run's classes, the ensemble's column: one label set, in any order."""
    if theirs.multilabel != ours.multilabel:
        kinds = ["single-label", "multi-label"]
        raise SentinetError(f"train.distill.teacher: {teacher_dir} is {kinds[theirs.multilabel]} and this run "
                            f"{kinds[ours.multilabel]} (model.head); they must agree")
    index = {v: i for i, v in enumerate(theirs.values)}
    if set(index) != set(ours.values):
        raise SentinetError(f"train.distill.teacher: {teacher_dir} predicts labels {list(theirs.values)[:20]}, "
                            f"this run's data has {list(ours.values)[:20]}: they must be one label set")
    return [index[v] for v in ours.values]


def ensemble_score(best: dict, distilled: dict) -> float | None:
    """The ensemble's dev score by the run's selecting metric (None: not scored, or not by it)."""
    theirs = (distilled.get("ensemble_dev") or {}).get(KEYS.get(str(best.get("metric")), "f_macro"))
    return float(theirs) if isinstance(theirs, (int, float)) and not isinstance(theirs, bool) else None


def comparison(best: dict, distilled: dict) -> str:
    """One line for the log: the run's dev score beside the ensemble's it was distilled from,
    by the run's selecting metric."""
    name, ours, theirs = metric_name(best), score_of(best), ensemble_score(best, distilled)
    line = f"dev {name}: distilled {ours:.4f}"
    if distilled.get("ensemble_dev") is None:
        return f"{line}; the ensemble {distilled['from']} was {distilled.get('ensemble_dev_note')}"
    if theirs is None:
        return f"{line}; the ensemble {distilled['from']} has no {name} dev score to compare"
    return f"{line} vs ensemble {theirs:.4f} ({ours - theirs:+.4f}), distilled from {distilled['from']}"
