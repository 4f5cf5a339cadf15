"""Several models of one config — seeds on one dev split, or the k models of k-fold
cross-validation: mean ± std of the members, and an ensemble that averages their
probabilities, a directory that ``eval`` and ``predict`` accept like a single run."""

from __future__ import annotations

import copy
import json
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentinet import artifacts
from sentinet.config import Config
from sentinet.decision import decide, tune_bias
from sentinet.fileio import atomic_write_text
from sentinet.metrics import full_report
from sentinet.errors import Interrupted
from sentinet.training import RunLog, TrainResult, train


@dataclass
class EnsembleResult:
    path: Path
    members: list[TrainResult]
    summary: dict  # mean/std of the members and the ensemble's dev scores


def mean_std(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def train_ensemble(config: Config, seeds: int) -> EnsembleResult:
    """Train ``seeds`` models (train.seed, train.seed + 1, ...) on one dev split and combine them."""
    members, stop = _train_members([_with(config, train_seed=config.train.seed + i) for i in range(seeds)])
    if not members:
        raise stop
    gold = members[0].dev_gold
    probs = np.mean([m.dev_probs for m in members], axis=0)
    summary = {"seeds": list(range(config.train.seed, config.train.seed + len(members)))}
    result = _combine(config, f"ensemble{len(members)}", members, gold, probs, summary,
                      "ensemble (averaged probabilities)")
    if stop is not None:
        raise Interrupted(f"{result.path} ensembles the {len(members)} of {seeds} seeds trained so far")
    return result


def cross_validate(config: Config, folds: int,
                   on_fold: Callable[[int, TrainResult], None] | None = None) -> EnsembleResult:
    """k-fold cross-validation: fold i of ``folds`` is dev for member i (``data.split`` says
    how folds are cut). Reports mean ± std over folds and the out-of-fold score (each tweet
    predicted by the one model that did not train on it); the fold models form an ensemble.
    ``on_fold(i, result)`` runs after each fold (``sentinet tune`` prunes from it)."""
    members, stop = _train_members([_with(config, fold=i, folds=folds) for i in range(folds)], on_fold)
    if not members:
        raise stop
    gold = [g for m in members for g in m.dev_gold]
    probs = np.concatenate([m.dev_probs for m in members])
    summary = {"folds": folds, "split": config.data.split}
    result = _combine(config, f"folds{folds}", members, gold, probs, summary,
                      f"out-of-fold ({len(members)} of {folds} folds)")
    if stop is not None:
        raise Interrupted(f"{result.path} holds the {len(members)} of {folds} folds trained so far")
    return result


def _with(config: Config, train_seed: int | None = None, fold: int | None = None,
          folds: int | None = None) -> Config:
    member = copy.deepcopy(config)
    if train_seed is not None:
        member.train.seed = train_seed
    if folds is not None:
        member.data.folds, member.data.fold = folds, fold
    return member


def _train_members(configs: list[Config],
                   on_member: Callable[[int, TrainResult], None] | None = None,
                   ) -> tuple[list[TrainResult], Interrupted | None]:
    """Train each config in turn; on Ctrl-C, stop and return what finished (a member cut
    short counts when it had a best epoch) with the interruption, to re-raise once combined."""
    members: list[TrainResult] = []
    for i, member in enumerate(configs):
        try:
            members.append(train(member))
        except Interrupted as stop:
            if stop.result is not None:
                members.append(stop.result)
            return members, stop
        if on_member is not None:
            on_member(i, members[-1])
    return members, None


def _combine(config: Config, kind: str, members: list[TrainResult], gold: list[dict],
             probs: np.ndarray, summary: dict, what: str) -> EnsembleResult:
    """Write the ensemble directory: manifest, summary metrics and log."""
    path = artifacts.new_run_dir(config.run.output_dir, f"{config.run.name}-{kind}")
    log = RunLog()
    log.attach(path / artifacts.LOG)
    classes = members[0].labels
    bias = None
    if config.train.tune_decision and classes.sentiment is not None:
        bias, _ = tune_bias(probs, gold, classes)
        artifacts.save_decision(path, bias)
    report = full_report(gold, decide(probs, classes, bias), classes)
    summary = {
        **summary,
        "members": [str(m.run_dir) for m in members],
        "f_macro": mean_std([m.best["f_macro"] for m in members]),
        "f_micro": mean_std([m.best["f_micro"] for m in members]),
        "seconds": sum(m.seconds for m in members),
        "ensemble": {k: v for k, v in report.items() if k != "report"},
        "labels": list(classes.values),
        "decision_bias": None if bias is None else list(bias),
    }
    manifest = {"members": [os.path.relpath(m.run_dir, path) for m in members]}
    atomic_write_text(path / artifacts.ENSEMBLE, json.dumps(manifest, indent=2))
    atomic_write_text(path / artifacts.METRICS, json.dumps(summary, indent=2))
    for m in members:
        log(f"member {m.run_dir}: dev F-macro {m.best['f_macro']:.4f}  F-micro {m.best['f_micro']:.4f}")
    fm, fu = summary["f_macro"], summary["f_micro"]
    log(f"{len(members)} members: dev F-macro {fm['mean']:.4f} ± {fm['std']:.4f}  "
        f"F-micro {fu['mean']:.4f} ± {fu['std']:.4f}")
    log(f"{what}{', tuned bias' if config.train.tune_decision else ''}: "
        f"dev F-macro {report['f_macro']:.4f}  F-micro {report['f_micro']:.4f}\n{report['report']}")
    return EnsembleResult(path, members, summary)
