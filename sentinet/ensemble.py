"""Several seeds of one config: mean ± std of the members, and an ensemble that averages
their probabilities — a directory that ``eval`` and ``predict`` accept like a single run."""

from __future__ import annotations

import copy
import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentinet import artifacts
from sentinet.config import Config
from sentinet.decision import NO_BIAS, decide, tune_bias
from sentinet.fileio import atomic_write_text
from sentinet.metrics import full_report
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
    members = []
    for i in range(seeds):
        member = copy.deepcopy(config)
        member.train.seed = config.train.seed + i
        members.append(train(member))
        if members[-1].interrupted:  # Ctrl-C: ensemble what has been trained so far
            break
    seeds = len(members)

    path = artifacts.new_run_dir(config.run.output_dir, f"{config.run.name}-ensemble{seeds}")
    log = RunLog()
    log.attach(path / artifacts.LOG)
    gold = members[0].dev_gold
    probs = np.mean([m.dev_probs for m in members], axis=0)
    bias = NO_BIAS
    if config.train.tune_decision:
        bias, _ = tune_bias(probs, gold)
        artifacts.save_decision(path, bias)
    report = full_report(gold, decide(probs, bias))
    summary = {
        "seeds": [config.train.seed + i for i in range(seeds)],
        "members": [str(m.run_dir) for m in members],
        "f_macro": mean_std([m.best["f_macro"] for m in members]),
        "f_micro": mean_std([m.best["f_micro"] for m in members]),
        "seconds": sum(m.seconds for m in members),
        "ensemble": {k: v for k, v in report.items() if k != "report"},
        "decision_bias": list(bias),
    }
    manifest = {"members": [os.path.relpath(m.run_dir, path) for m in members]}
    atomic_write_text(path / artifacts.ENSEMBLE, json.dumps(manifest, indent=2))
    atomic_write_text(path / artifacts.METRICS, json.dumps(summary, indent=2))
    for m in members:
        log(f"member {m.run_dir}: dev F-macro {m.best['f_macro']:.4f}  F-micro {m.best['f_micro']:.4f}")
    fm, fu = summary["f_macro"], summary["f_micro"]
    log(f"{seeds} seeds: dev F-macro {fm['mean']:.4f} ± {fm['std']:.4f}  F-micro {fu['mean']:.4f} ± {fu['std']:.4f}")
    log(f"ensemble (averaged probabilities{', tuned bias' if config.train.tune_decision else ''}): "
        f"dev F-macro {report['f_macro']:.4f}  F-micro {report['f_micro']:.4f}\n{report['report']}")
    return EnsembleResult(path, members, summary)
