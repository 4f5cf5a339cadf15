"""A training run's directory around the loop: opening it (new, or the one to resume), its
first files, and at the end the final scores, the metrics.json every epoch rewrites, and the
mark that says whether the run is complete (sentinet.runs.rundir owns the files' formats).
The epochs themselves are sentinet.training.loop's."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sentinet.runs import weights
from sentinet.reporting import plots
from sentinet.runs import rundir
from sentinet.config.schema import Config
from sentinet.evaluation.decision import (
    Bias, decide, describe_bias, describe_thresholds, tune_bias, tune_thresholds,
)
from sentinet.errors import Interrupted, SentinetError
from sentinet.training.events import Callback
from sentinet.fileio import remove_partials
from sentinet.inference.predictor import predict_ids
from sentinet.labels import LabelSet
from sentinet.evaluation.metrics import (
    all_scores, full_report, metric_name, pairs_noun, resolve_metric, score_of, scores,
)
from sentinet.training.setup import Prepared
from sentinet.runs.log import RunLog
from sentinet.training.callbacks import GovernedThreads
from sentinet.training.hybrid import fit_linear_part
from sentinet.training.teacher import comparison


@dataclass
class TrainResult:
    run_dir: Path
    best_epoch: int
    best: dict
    epochs: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    labels: LabelSet = field(default_factory=lambda: LabelSet.of(None))
    decision: Bias | None = None  # per-class bias on the log-probabilities, when tuned
    dev_probs: np.ndarray | None = None  # the best model's dev probabilities (for ensembles)
    hybrid: dict | None = None  # train.hybrid blend: its parts' dev scores and the chosen share
    dev_gold: list[dict] = field(default_factory=list)
    machine: str = ""
    data: dict = field(default_factory=dict)  # how dev was chosen and what was trained on
    versions: dict = field(default_factory=dict)  # sentinet, torch, python, git commit
    distilled: dict | None = None  # train.distill: the ensemble learnt from, its dev scores (teacher.py)


# --------------------------------------------------------------------------------------
# Opening


def open_run_dir(config: Config, resume: Path | None, into: Path | None) -> Path:
    """A new run directory marked incomplete, or the one to resume, cleared of the temp
    files a killed save leaves and marked incomplete until it finishes again."""
    if resume is None:
        if into is not None:
            return rundir.create_run_dir(into)
        return rundir.new_run_dir(config.run.output_dir, config.run.name)
    remove_partials(resume)
    rundir.mark(resume, rundir.TRAINING)
    return resume


def start_run_dir(prep: Prepared, run_dir: Path, log: RunLog, restarting: bool) -> None:
    """The log, config and vocabulary of a new run (or of one resumed before its first
    checkpoint, which starts over); or, resuming, a consistent model.pt."""
    log.attach(run_dir / rundir.LOG)
    if prep.saved is None:
        over = " (starting over: it stopped before its first checkpoint)" if restarting else ""
        log(f"run: {run_dir}{over}")
        rundir.write_config(prep.config, run_dir / rundir.CONFIG)
        prep.vocab.save(run_dir / rundir.VOCAB)
    else:
        log(f"run: {run_dir}: resuming after epoch {prep.saved['epoch']}")
        restore_best(run_dir, prep.saved, log)


def restore_best(run_dir: Path, saved: dict, log: RunLog) -> None:
    """A kill between the model.pt save and the last.pt save leaves model.pt an epoch ahead
    of the checkpoint; put back the best weights the checkpoint knows, so that the run goes
    on from one consistent state (whatever the resumed epoch then finds)."""
    path = run_dir / rundir.WEIGHTS
    record = weights.load_record(path)
    if saved.get("best_model") is None or record.get("best_epoch") == saved["best_epoch"]:
        return
    log(f"run: {path} held epoch {record.get('best_epoch')}, saved after the last checkpoint; "
        f"restoring the checkpoint's best epoch {saved['best_epoch']}")
    record = {"best_epoch": saved["best_epoch"], "best": saved["best"]}
    weights.save_weights(saved["best_model"], path, record)


# --------------------------------------------------------------------------------------
# Stopping and closing


def stop_interrupted(result: TrainResult, run_dir: Path, resume: Path | None, log: RunLog) -> None:
    """Ctrl-C: keep the run as its last checkpoint (to be finished with the best epoch so
    far), or, before the first one, leave nothing (a new run) or the run as it was."""
    result.interrupted = True
    if not (run_dir / rundir.LAST).is_file():
        if resume is None:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing in it worth keeping
            raise Interrupted("before the first epoch ended; no run directory was kept") from None
        raise Interrupted(f"before the first epoch ended; {run_dir} is as it was") from None
    log(f"interrupted after epoch {result.epochs[-1]['epoch']}: finishing the run with the best "
        f"epoch so far ({result.best_epoch})")  # how to resume is the last line, said once


def close_run(prep: Prepared, result: TrainResult, log: RunLog, started: float) -> TrainResult:
    """Write the final results, then mark the run directory complete; an interrupted run
    stays marked incomplete (with how far it got) and raises ``Interrupted``."""
    run_dir = result.run_dir
    try:
        write_final_results(prep, result, log, started)
    except KeyboardInterrupt:
        raise Interrupted(f"while {run_dir} was being finished; {rundir.hint(run_dir)}") from None
    except SentinetError as exc:
        raise SentinetError(f"{exc}; {rundir.hint(run_dir)}") from None
    if result.interrupted:
        rundir.mark(run_dir, f"interrupted after epoch {result.epochs[-1]['epoch']}; "
                        f"model.pt holds the best epoch so far ({result.best_epoch})")
        raise Interrupted(f"{run_dir} holds the best epoch so far ({result.best_epoch}); "
                          f"{rundir.hint(run_dir)}", result)
    rundir.clear(run_dir)
    return result


def write_final_results(prep: Prepared, result: TrainResult, log: RunLog, started: float) -> None:
    """Re-score dev with the saved best model, tune the decision rule if asked, write the
    final metrics, dev predictions and pictures: everything a finished run holds."""
    run_dir, gold, classes = result.run_dir, result.dev_gold, result.labels
    best = weights.load_run(run_dir, prep.device)
    result.dev_probs = predict_ids(best.model, prep.dev_ids, prep.device)
    if prep.config.train.hybrid == "blend":  # the run's predictions are the blend's from here on
        result.dev_probs, result.hybrid = fit_linear_part(prep, run_dir, result.dev_probs, gold, log)
    if left_out := rundir.save_dev_predictions(run_dir, [r.id for r in prep.data.dev], gold, result.dev_probs):
        log(left_out)
    tune_decision, metric = prep.config.train.tune_decision, prep.config.train.metric
    if classes.multilabel:
        result.decision = tune_thresholds(result.dev_probs, gold, classes)
        rundir.save_decision(run_dir, result.decision, "thresholds")
        tuned = scores(gold, decide(result.dev_probs, classes, result.decision), classes, metric)["score"]
        log(f"thresholds chosen on dev, each class's best F1: {describe_thresholds(result.decision, classes)} "
            f"(dev {metric_name(result.best)} at 0.5 {score_of(result.best):.4f} → {tuned:.4f}; optimistic: "
            "chosen on the same dev set)")
    elif tune_decision and resolve_metric(metric, classes) != "sentirueval":
        log("decision rule: not tuned (train.tune_decision favours the official F-macro's "
            f"negative and positive classes; this run selects on {metric_name(result.best)})")
    elif tune_decision:
        result.decision, tuned = tune_bias(result.dev_probs, gold, classes)
        rundir.save_decision(run_dir, result.decision)
        log(f"decision rule tuned on dev: bias {describe_bias(result.decision, classes)} "
            f"(dev F-macro {score_of(result.best):.4f} → {tuned:.4f}; optimistic: tuned on the same dev set)")
    result.seconds = time.time() - started
    report = full_report(gold, decide(result.dev_probs, classes, result.decision), classes, metric)
    result.best = {k: v for k, v in report.items() if k != "report"}
    write_metrics(run_dir, result)
    plots.write_pictures(run_dir, result.epochs, result.best_epoch, report.get("confusion"), classes.names, log,
                         pairs_noun(report))
    in_group = rundir.is_group(run_dir.parent)  # a --seeds/--folds member: its group reports
    log(f"best epoch {result.best_epoch}: dev {all_scores(report)}  ({result.seconds:.0f}s)"
        + ("" if in_group else f"\n{report['report']}"))
    if result.distilled is not None:
        log(comparison(result.best, result.distilled))


# --------------------------------------------------------------------------------------
# What metrics.json records


def machine(device: torch.device, threads: Callback | None = None) -> str:
    """Where a run trained, recorded beside its scores (timings mean nothing without it)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if isinstance(threads, GovernedThreads):
        return f"CPU, {threads.governor.describe()}"
    return f"CPU, {torch.get_num_threads()} threads"


def write_metrics(run_dir: Path, result: TrainResult) -> None:
    """metrics.json: rewritten after every epoch and once more, with the final scores, at the end."""
    rundir.write_metrics(run_dir, {
        "best_epoch": result.best_epoch,
        "best": result.best,
        "labels": list(result.labels.values),
        **({"multilabel": True} if result.labels.multilabel else {}),
        "decision_bias": None if result.decision is None or result.labels.multilabel else list(result.decision),
        **({"thresholds": list(result.decision)} if result.labels.multilabel and result.decision else {}),
        "epochs": result.epochs,
        "seconds": result.seconds,
        "machine": result.machine,
        "interrupted": result.interrupted,
        "data": result.data,
        "versions": result.versions,
        **({} if result.hybrid is None else {"hybrid": result.hybrid}),
        **({} if result.distilled is None else {"distilled_from": result.distilled["from"],
                                                 "distillation": result.distilled}),
    })
