"""Several models of one config — seeds on one dev split, or the k models of k-fold
cross-validation: mean ± std of the members, and an ensemble that averages their
probabilities, a directory that ``eval`` and ``predict`` accept like a single run.

The group directory (``<name>-ensemble<N>-<time>/`` or ``<name>-folds<K>-<time>/``) is made
first, marked ``INCOMPLETE``, with the resolved ``config.yaml`` and ``group.json`` (what it
trains); each member trains inside it (``seed<S>/``, ``fold<I>/``). So a group stopped in
any way resumes member by member: ``sentinet train --resume GROUP_DIR`` skips the finished
members, resumes the cut one from its last.pt, trains the rest, then writes the ensemble.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentinet.runs import rundir
from sentinet.config.schema import Config
from sentinet.config.paths import resolve_paths
from sentinet.labels import LabelSet
from sentinet.evaluation.decision import decide, tune_bias, tune_thresholds
from sentinet.errors import Interrupted, SentinetError
from sentinet.fileio import check_own_tree, remove_partials
from sentinet.evaluation.metrics import full_report, headline, resolve_metric, summarise
from sentinet.runs.log import RunLog
from sentinet.training.loop import TrainResult, train


@dataclass
class EnsembleResult:
    path: Path
    members: list[TrainResult]
    summary: dict  # mean/std of the members and the ensemble's dev scores


def train_ensemble(config: Config, seeds: int, group: Path | None = None,
                   into: Path | None = None) -> EnsembleResult:
    """Train ``seeds`` models (train.seed, train.seed + 1, ...) on one dev split and combine
    them; ``group`` resumes that group directory instead of starting one, ``into`` names the new one."""
    path = group or _new_group(config, "seeds", seeds, f"ensemble{seeds}", into)
    members, stop = _train_members(path, _members(config, "seeds", seeds), fresh=group is None)
    gold = members[0].dev_gold
    probs = np.mean([m.dev_probs for m in members], axis=0)
    summary = {"seeds": list(range(config.train.seed, config.train.seed + len(members)))}
    result = _combine(path, config, members, gold, probs, summary, "ensemble (averaged probabilities)")
    _finish_group(path, stop, members, f"ensembles the {len(members)} of {seeds} seeds trained so far")
    return result


def cross_validate(config: Config, folds: int,
                   on_fold: Callable[[int, TrainResult], None] | None = None,
                   group: Path | None = None, into: Path | None = None, quiet: bool = False) -> EnsembleResult:
    """k-fold cross-validation: fold i of ``folds`` is dev for member i (``data.split`` says
    how folds are cut). Reports mean ± std over folds and the out-of-fold score (each tweet
    predicted by the one model that did not train on it); the fold models form an ensemble.
    ``on_fold(i, result)`` runs after each fold (``sentinet tune`` prunes from it); ``group``
    resumes that group directory instead of starting one; ``quiet``: logs to the files only."""
    path = group or _new_group(config, "folds", folds, f"folds{folds}", into)
    members, stop = _train_members(path, _members(config, "folds", folds), fresh=group is None,
                                   on_member=on_fold, quiet=quiet)
    gold = [g for m in members for g in m.dev_gold]
    probs = np.concatenate([m.dev_probs for m in members])
    summary = {"folds": folds, "split": config.data.split}
    result = _combine(path, config, members, gold, probs, summary,
                      f"out-of-fold ({len(members)} of {folds} folds)", quiet)
    _finish_group(path, stop, members, f"holds the {len(members)} of {folds} folds trained so far")
    return result


def resume_group(path: Path, device: str | None) -> EnsembleResult:
    """Go on with a group directory as it was configured (``--device`` aside)."""
    check_own_tree(path)  # its members' writes stay inside it
    kind, count = rundir.read_group_plan(path)
    config = rundir.read_config(path / rundir.CONFIG)
    if device:
        config.train.device = device
    if kind == "seeds":
        return train_ensemble(config, count, group=path)
    return cross_validate(config, count, group=path)


def _new_group(config: Config, kind: str, count: int, label: str, into: Path | None = None) -> Path:
    """The group directory (``into``, or a new timestamped one), its resolved config and plan;
    data paths are checked first."""
    config = resolve_paths(copy.deepcopy(config))
    path = rundir.create_run_dir(into) if into else rundir.new_run_dir(config.run.output_dir,
                                                                         f"{config.run.name}-{label}")
    try:  # the plan first: a directory with a config.yaml and no plan would pass for a run
        rundir.write_group_plan(path, kind, count)
        rundir.write_config(config, path / rundir.CONFIG)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path


def _members(config: Config, kind: str, count: int) -> list[tuple[str, Config]]:
    """Each member's directory name and config."""
    if kind == "seeds":
        return [(f"seed{s}", _with(config, train_seed=s))
                for s in range(config.train.seed, config.train.seed + count)]
    return [(f"fold{i}", _with(config, fold=i, folds=count)) for i in range(count)]


def _with(config: Config, train_seed: int | None = None, fold: int | None = None,
          folds: int | None = None) -> Config:
    member = copy.deepcopy(config)
    if train_seed is not None:
        member.train.seed = train_seed
    if folds is not None:
        member.data.folds, member.data.fold = folds, fold
    return member


def _train_members(group: Path, plan: list[tuple[str, Config]], fresh: bool,
                   on_member: Callable[[int, TrainResult], None] | None = None, quiet: bool = False,
                   ) -> tuple[list[TrainResult], Interrupted | None]:
    """Train (or resume, or skip when finished) each member in turn; on Ctrl-C, stop and
    return what finished (a member cut short counts when it had a best epoch) with the
    interruption, to re-raise once combined. Members are read back from their directories,
    so a resumed group combines exactly what an uninterrupted one would. A ``fresh`` group
    that fails before any member's first checkpoint is removed, like a single run."""
    remove_partials(group)
    rundir.mark(group, rundir.TRAINING)
    members: list[TrainResult] = []
    stop = None
    try:
        for i, (name, config) in enumerate(plan):
            try:
                _train_member(config, group / name, quiet)
            except Interrupted as exc:
                stop = exc
            if (group / name / rundir.DEV).is_file():
                members.append(load_member(group / name))
            if stop is not None:
                break
            if on_member is not None:
                on_member(i, members[-1])
        if not members:
            raise stop
    except BaseException:
        if fresh and not any(group.glob(f"*/{rundir.LAST}")):  # nothing in it worth keeping
            shutil.rmtree(group, ignore_errors=True)
            if stop is not None:
                raise Interrupted("before the first member's first checkpoint; "
                                  "no group directory was kept") from None
        elif stop is not None:
            raise Interrupted(f"before the member's first checkpoint; {rundir.hint(group)}") from None
        raise
    return members, stop


def _train_member(config: Config, path: Path, quiet: bool = False) -> None:
    if not path.exists():
        train(config, into=path, quiet=quiet)
    elif not (path / rundir.CONFIG).is_file():  # killed while it was being created
        shutil.rmtree(path)
        train(config, into=path, quiet=quiet)
    elif rundir.status(path) is not None:
        train(config, resume=path, quiet=quiet)


def load_member(path: Path) -> TrainResult:
    """A finished (or Ctrl-C'd) member as the ensemble needs it, from its metrics.json and
    dev_predictions.json."""
    try:
        metrics = rundir.read_metrics(path)
        gold, probs = rundir.load_dev_predictions(path)
        return TrainResult(run_dir=path, best_epoch=metrics["best_epoch"], best=metrics["best"],
                           seconds=metrics["seconds"], interrupted=metrics["interrupted"],
                           labels=LabelSet.of(metrics.get("labels"), bool(metrics.get("multilabel"))),
                           dev_probs=np.asarray(probs, dtype=np.float32), dev_gold=gold)
    except (KeyError, TypeError, ValueError) as exc:
        raise SentinetError(f"{path}: unreadable group member ({exc})") from None


def _finish_group(path: Path, stop: Interrupted | None, members: list[TrainResult], partial: str) -> None:
    """Complete, or (after a Ctrl-C) marked incomplete with the ensemble of what finished."""
    if stop is None:
        rundir.clear(path)
        return
    partial += " (the last cut short)" if members[-1].interrupted else ""
    rundir.mark(path, f"interrupted: ensemble.json {partial}")
    raise Interrupted(f"{path} {partial}; {rundir.hint(path)}")


def _combine(path: Path, config: Config, members: list[TrainResult], gold: list[dict],
             probs: np.ndarray, summary: dict, what: str, quiet: bool = False) -> EnsembleResult:
    """Write the ensemble into the group directory: manifest, summary metrics and log."""
    log = RunLog(echo=not quiet)
    log.attach(path / rundir.LOG)
    classes = members[0].labels
    bias = None
    metric = config.train.metric
    if classes.multilabel:  # the members' thresholds do not carry over to their average
        bias = tune_thresholds(probs, gold, classes)
        rundir.save_decision(path, bias, "thresholds")
    elif config.train.tune_decision and resolve_metric(metric, classes) == "sentirueval":
        bias, _ = tune_bias(probs, gold, classes)
        rundir.save_decision(path, bias)
    report = full_report(gold, decide(probs, classes, bias), classes, metric)
    summary = {
        **summary,
        "members": [str(m.run_dir) for m in members],
        **summarise([m.best for m in members]),
        "seconds": sum(m.seconds for m in members),
        "ensemble": {k: v for k, v in report.items() if k != "report"},
        "labels": list(classes.values),
        "decision_bias": None if bias is None or classes.multilabel else list(bias),
        **({"thresholds": list(bias), "multilabel": True} if classes.multilabel else {}),
    }
    rundir.write_members(path, [os.path.relpath(m.run_dir, path) for m in members])
    rundir.write_metrics(path, summary)
    for m in members:
        log(f"member {m.run_dir}: dev {headline(m.best)}")
    log(f"{len(members)} members: dev {headline(summary)}")
    log(f"{what}{', tuned bias' if bias is not None else ''}: dev {headline(report)}\n{report['report']}")
    return EnsembleResult(path, members, summary)
