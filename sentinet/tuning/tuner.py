"""Hyperparameter search (``sentinet tune``): an Optuna sampler (TPE, random or grid) and the
median pruner over a space of config keys, each trial one ``train`` (or one k-fold
``cross_validate``).

A study lives in a database — a SQLite file by default, any SQLAlchemy URL otherwise — so it
can be resumed, shared by worker processes (``--jobs``) and by several machines. Its summary
(``best.yaml``, ``trials.md``, ``trials.csv``, ``best_so_far.png``) is rebuilt from the
database after every run, so it covers every trial, wherever it ran.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import FrozenTrial, Trial, TrialState
from tqdm import tqdm

from sentinet.reporting import plots
from sentinet.config.schema import Config, dump_yaml
from sentinet.training.groups import cross_validate
from sentinet.errors import Interrupted, SentinetError
from sentinet.training.events import Callback
from sentinet.fileio import atomic_write_text, check_own_tree
from sentinet.runtime import signals
from sentinet.tuning.search_space import Job, Param, build_config, grid, grid_size, tried_points
from sentinet.tuning.storage import open_storage, shown_url
from sentinet.tuning.state import WORKER, fail_abandoned, worker_name
from sentinet.tuning.tables import (
    cell, csv_table, markdown_table, scores, score_name, short_keys, study_metric, trial_note, trial_rows,
    trial_seconds,
)
from sentinet.evaluation.metrics import score_of
from sentinet.training.loop import TrainResult, train

# Median stopping rule: only once 5 trials have finished, and never on the first epoch,
# whose dev score says more about the learning rate than about the model.
PRUNE_AFTER_TRIALS, PRUNE_FROM_STEP = 5, 2
BEST_SO_FAR = "best_so_far.png"


# --------------------------------------------------------------------------------------
# A study and its trials


def create_study(job: Job) -> optuna.Study:
    """The job's study, created on first use, loaded when it exists (resuming)."""
    quiet_optuna()
    study = optuna.create_study(study_name=job.name, storage=open_storage(job.storage),
                                direction="maximize", load_if_exists=True)
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise SentinetError(f"study {job.name!r} in {shown_url(job.storage)} minimises; sentinet maximises "
                            "the dev score: choose another --study name")
    return study


def use_sampler(study: optuna.Study, job: Job, seed: int) -> tuple[Job, int]:
    """The job with the study's sampler, and the grid's seed. A new study records --sampler
    (tpe by default) in its user attrs, a grid also its points and seed (which order it);
    a resumed study keeps its sampler (another --sampler is refused) and its grid order."""
    recorded = study.user_attrs.get("sampler") or ("tpe" if study.trials else None)  # older studies: TPE
    sampler = job.sampler or recorded or "tpe"
    points = grid(job.space, f"study {job.name!r}") if sampler == "grid" else None
    if recorded is None:
        study.set_user_attr("sampler", sampler)
        if points is not None:
            study.set_user_attr("grid", points)
            study.set_user_attr("grid_seed", seed)
        recorded = study.user_attrs["sampler"]  # a command creating the same study at once
    if sampler != recorded:
        raise SentinetError(f"study {job.name!r} was created with --sampler {recorded}: resume it "
                            f"with --sampler {recorded} (or none), or give --study a new name for {sampler}")
    if points is not None and study.user_attrs.get("grid") != points:
        raise SentinetError(f"study {job.name!r} walked another grid before (the space's values "
                            "changed); give --study a new name for a new grid")
    return dataclasses.replace(job, sampler=sampler), int(study.user_attrs.get("grid_seed", seed))


def make_sampler(job: Job, seed: int) -> optuna.samplers.BaseSampler:
    if job.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if job.sampler == "grid":  # every worker and every resume: the same seed, the same order
        return optuna.samplers.GridSampler(grid(job.space, f"study {job.name!r}"), seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def grid_budget(study: optuna.Study, job: Job, trials: int, seed: int) -> int:
    """How many of ``trials`` (0: all) a grid study runs: at most its points not tried yet,
    so that its workers never try one twice. A trial that failed or was interrupted tried its
    point, as Optuna's GridSampler counts it."""
    points = grid(job.space, f"study {job.name!r}")
    size = grid_size(points)
    tried = tried_points(points, [t.params for t in study.get_trials(deepcopy=False)])
    left = size - len(tried)
    before = f" ({len(tried)} tried before)" if tried else ""
    if not left:
        tqdm.write(f"--sampler grid: all {size} grid points of study {job.name} are tried; nothing to run")
    elif trials and trials < left:
        tqdm.write(f"--sampler grid: {size} grid points{before}; running {trials} of the {left} left "
                   f"(--trials {trials}), in the order from seed {seed}; run again for more")
        return trials
    else:
        tqdm.write(f"--sampler grid: {size} grid points{before}; running the {left} left, then stopping")
    return left


def objective(trial: Trial, job: Job) -> float:
    """Train the trial's config; its score is the dev score train.metric names (the fold mean
    with --folds). Its training log goes to its run's train.log, not to the terminal, where
    ``_print_trial`` sums it up in one line (warnings and errors still reach stderr)."""
    started = time.time()
    trial.set_user_attr(WORKER, worker_name())  # which machine, which process: see tuning/state.py
    try:
        config = trial_config(trial, job)
        if job.folds:
            cv = cross_validate(config, job.folds, on_fold=_fold_pruner(trial), quiet=True)
            record, run_dir = cv.summary, cv.path
        else:
            result = train(config, callbacks=[_EpochPruner(trial)], quiet=True)
            record, run_dir = result.best, result.run_dir
        value = score_of(record)
        trial.set_user_attr("run_dir", str(run_dir))
        if record.get("metric"):  # auto made concrete by the labels: what the summary names
            trial.set_user_attr("metric", record["metric"])
    except Interrupted:  # Ctrl-C: training kept what it could, then stopped the study
        trial.set_user_attr("error", "interrupted")
        raise KeyboardInterrupt from None
    except SentinetError as exc:
        trial.set_user_attr("error", str(exc))
        raise
    except KeyboardInterrupt:
        trial.set_user_attr("error", "interrupted")
        raise
    finally:
        trial.set_user_attr("seconds", round(time.time() - started, 2))
    return value


def trial_config(trial: Trial, job: Job) -> Config:
    """The base config with this trial's sampled values, training under OUTPUT_DIR/<study>/trials.

    An invalid combination of sampled values is a pruned trial with the reason in its
    user attrs, so the sampler learns to avoid it and the study goes on."""
    values = _sample(trial, job.space)
    try:
        config = build_config(job.base, values)
    except SentinetError as exc:
        trial.set_user_attr("error", f"invalid combination: {exc}")
        raise optuna.TrialPruned(str(exc)) from None
    config.run.output_dir, config.run.name = str(job.directory / "trials"), f"trial{trial.number}"
    return config


def _sample(trial: Trial, space: tuple[Param, ...]) -> dict[str, Any]:
    try:
        return {p.key: p.suggest(trial) for p in space}
    except ValueError as exc:  # Optuna refuses a parameter whose kind or choices changed
        raise SentinetError(f"study {trial.study.study_name!r} searched a parameter differently "
                            f"before ({exc}); use another --study name for a new space") from None


class _EpochPruner(Callback):
    """Reports each epoch's dev score to Optuna; raises TrialPruned below the median."""

    def __init__(self, trial: Trial):
        self.trial = trial

    def after_epoch(self, epoch: int, row: dict, run_dir: Path) -> None:
        _report(self.trial, row["score"], epoch, f"epoch {epoch}", score_name(row.get("metric")))


def _fold_pruner(trial: Trial):
    scores: list[float] = []

    def on_fold(i: int, result: TrainResult) -> None:
        scores.append(score_of(result.best))
        _report(trial, sum(scores) / len(scores), i + 1, f"fold {i + 1}",
                f"mean {score_name(result.best.get('metric'))}")

    return on_fold


def _report(trial: Trial, score: float, step: int, where: str, name: str) -> None:
    trial.report(score, step)
    if trial.should_prune():
        trial.set_user_attr("pruned", f"{where}: {name} {score:.4f}, below the median")
        raise optuna.TrialPruned(where)


# --------------------------------------------------------------------------------------
# Workers


def optimize(job: Job, trials: int, timeout: float | None, seed: int, threads: int) -> None:
    """One worker: run up to ``trials`` trials (0: no limit) of the shared study."""
    torch.set_num_threads(threads)
    quiet_optuna()
    study = optuna.load_study(
        study_name=job.name, storage=open_storage(job.storage), sampler=make_sampler(job, seed),
        pruner=optuna.pruners.MedianPruner(PRUNE_AFTER_TRIALS, PRUNE_FROM_STEP))
    study.optimize(partial(objective, job=job), n_trials=trials or None, timeout=timeout,
                   callbacks=[partial(_print_trial, job=job)])


def run(job: Job, trials: int, timeout: float | None, jobs: int, seed: int) -> bool:
    """Run ``trials`` new trials (0: until the timeout or Ctrl-C) on ``jobs`` worker processes.
    Returns True when stopped by Ctrl-C; finished trials are in the storage either way."""
    check_own_tree(job.directory)  # a study folder someone passed on: no link leads study.db or trials outside
    study = create_study(job)
    for number in fail_abandoned(study):
        tqdm.write(f"trial {number} fail  (its worker process ended without finishing it: killed?)")
    before = len(study.trials)
    job, grid_seed = use_sampler(study, job, seed)
    if job.sampler == "grid":
        trials = grid_budget(study, job, trials, grid_seed)
        if not trials:
            return False
    jobs = min(jobs, trials) if trials else jobs
    budget = f"{trials} more" if trials else "more until --timeout or Ctrl-C"
    tqdm.write(f"study {job.name} ({shown_url(job.storage)}, {job.sampler} sampler): {before} trials "
               f"so far; {budget} "
               f"on {jobs} worker process{'es' if jobs > 1 else ''}"
               + (f", starting none after {timeout:g}s" if timeout else ""))
    tqdm.write(f"one line per trial; each trial's training log: {job.directory / 'trials'}/trial<N>-*/train.log")
    threads = max(1, (os.cpu_count() or 1) // jobs)
    shares = [trials // jobs + (i < trials % jobs) for i in range(jobs)]
    seeds = [grid_seed if job.sampler == "grid" else worker_seed(seed, before, i) for i in range(jobs)]
    if jobs == 1:
        try:
            optimize(job, trials, timeout, seeds[0], threads)
        except KeyboardInterrupt:
            return True
        return False
    return _run_workers(job, shares, timeout, seeds, threads)


def worker_seed(seed: int, trials_before: int, worker: int) -> int:
    """Distinct sampler seeds per worker and per resumed run: the same seed would replay
    the same random start-up trials (TPE) or the same random trials. Not for a grid, whose
    seed orders its points: it must be the same in every worker and run."""
    return int(np.random.SeedSequence([seed, trials_before, worker]).generate_state(1)[0])


def _run_workers(job: Job, shares: list[int], timeout: float | None, seeds: list[int],
                 threads: int) -> bool:
    """Worker processes (spawned: torch training in threads neither scales nor isolates).
    Ctrl-C reaches them from the terminal, and once more from here for a lone kill -INT."""
    context = multiprocessing.get_context("spawn")
    errors = context.SimpleQueue()
    workers = [context.Process(target=_worker, args=(job, n, timeout, s, threads, errors))
               for n, s in zip(shares, seeds)]
    for w in workers:
        w.start()
    interrupted = False
    try:
        for w in workers:
            w.join()
    except KeyboardInterrupt:
        interrupted = True
        for w in workers:
            if w.is_alive():
                signals.send_ctrl_c(w.pid)
        for w in workers:
            w.join()
    if not errors.empty():
        raise SentinetError(errors.get())
    codes = [w.exitcode for w in workers if w.exitcode not in (0, 130)]
    if codes:
        raise SentinetError(f"{len(codes)} of {len(workers)} worker processes failed "
                            f"(exit code {codes[0]}); see the messages above")
    return interrupted or any(w.exitcode == 130 for w in workers)


def _worker(job: Job, trials: int, timeout: float | None, seed: int, threads: int,
            errors) -> None:
    signals.stop_at_first_ctrl_c()  # the terminal's Ctrl-C, then the main process's forwarded one
    try:
        optimize(job, trials, timeout, seed, threads)
    except SentinetError as exc:
        errors.put(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def _print_trial(study: optuna.Study, trial: FrozenTrial, job: Job) -> None:
    """One line per finished trial, from whichever worker ran it: its state, its score named
    by train.metric, its values (short keys), its time, and *best when no other trial
    finished so far scores as high; a pruned trial's note says where and why."""
    value = best = ""
    if trial.state == TrialState.COMPLETE:
        value = f"  {score_name(study_metric([trial], job.base), job.folds)} {trial.value:.4f}"
        others = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                  if t.number != trial.number]
        best = "  *best" if trial.value > max(others, default=float("-inf")) else ""
    short = short_keys(list(trial.params))
    params = "  ".join(f"{short[k]}={cell(v)}" for k, v in trial.params.items())
    note = trial_note(trial)
    tqdm.write(f"trial {trial.number} {trial.state.name.lower()}{value}  {params}  "
               f"({trial_seconds(trial):.1f}s){best}{f'  [{note}]' if note else ''}")


class _UserErrorFilter(logging.Filter):
    """Optuna logs a failed trial twice: with its traceback, then "failed with value None".
    For user errors and Ctrl-C the CLI's one-line error (or exit code 130) says it all, and
    the second line never adds anything."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (SentinetError, KeyboardInterrupt)):
            return False
        return not record.getMessage().endswith("failed with value None.")


def quiet_optuna() -> None:
    """Optuna at WARNING: the per-trial lines come from ``_print_trial``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for handler in logging.getLogger("optuna").handlers:
        if not any(isinstance(f, _UserErrorFilter) for f in handler.filters):
            handler.addFilter(_UserErrorFilter())


# --------------------------------------------------------------------------------------
# Summary


@dataclass
class Summary:
    table: str  # markdown, best first
    trials: int  # in the study, from every run and machine
    best: FrozenTrial | None  # None while no trial has completed
    best_path: Path | None
    sampler: str = "tpe"  # as the study records it, e.g. "grid (4 points, order from seed 13)"
    picture: Path | None = None  # best_so_far.png, when there is one
    score: str = "dev score"  # what the trials are scored by, e.g. "dev macro-F1" (score_name)


def summarize(job: Job) -> Summary:
    """Rebuild best.yaml, trials.md, trials.csv and best_so_far.png from every trial in the storage."""
    study = optuna.load_study(study_name=job.name, storage=open_storage(job.storage))
    trials = study.get_trials(deepcopy=False)
    sampler = sampler_of(study)
    score = score_name(study_metric(trials, job.base), job.folds)
    rows = trial_rows(trials, [p.key for p in job.space])
    table = markdown_table(rows, score)
    atomic_write_text(job.directory / "trials.md", f"# Study {job.name}\n\nSampler: {sampler}\n\n{table}\n")
    atomic_write_text(job.directory / "trials.csv", csv_table(rows))
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        return Summary(table, len(trials), None, None, sampler, score=score)
    picture = job.directory / BEST_SO_FAR
    label = f"{job.name} ({study.user_attrs.get('sampler', 'tpe')})"
    drawn = plots.write_best_so_far(picture, {label: scores(trials)}, tqdm.write, score)
    best = study.best_trial
    return Summary(table, len(trials), best, write_best(job, best, len(trials), sampler), sampler,
                   picture if drawn else None, score)


def sampler_of(study: optuna.Study) -> str:
    """The study's sampler as its user attrs record it (a study without one is from before
    --sampler, when it was always TPE)."""
    attrs = study.user_attrs
    if attrs.get("sampler") != "grid":
        return attrs.get("sampler", "tpe")
    return f"grid ({grid_size(attrs.get('grid', {}))} points, order from seed {attrs.get('grid_seed')})"


def write_best(job: Job, best: FrozenTrial, n_trials: int, sampler: str = "tpe") -> Path:
    """The base config with the best trial's values: ready for ``sentinet train --config``."""
    try:
        config = build_config(job.base, best.params)
    except SentinetError as exc:
        raise SentinetError(f"best trial {best.number} no longer fits the base config: {exc}") from None
    config.run.name = config.run.name or job.name
    path = job.directory / "best.yaml"
    score = score_name(study_metric([best], job.base), job.folds)
    folds = f" --folds {job.folds}" if job.folds else ""
    header = (f"# Best trial of study '{job.name}' in {shown_url(job.storage)} ({n_trials} trials "
              f"so far): trial {best.number}, {score} {best.value:.4f}\n"
              f"# Searched: {', '.join(best.params)}; sampler: {sampler}\n"
              f"# Train it: sentinet train --config {path}{folds}\n")
    atomic_write_text(path, header + dump_yaml(config))
    return path
