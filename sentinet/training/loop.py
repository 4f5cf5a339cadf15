"""Training: config → data → vocabulary and vectors → model → epochs with dev selection.

``train()`` reads top to bottom: prepare (data, labels, vocabulary, model) → restore a
checkpoint or start fresh → per epoch: train, score dev, commit → finish. The model is
selected on dev by the official SentiRuEval F-macro (macro-F1 for other label sets): the best
epoch's weights are saved (atomically) as soon as they are found, and training stops after
``train.patience`` epochs without improvement. Side concerns (schedule, weight averaging,
CSV and TensorBoard logs, tune's pruner) subscribe to the loop's events (sentinet.training.events).
"""

from __future__ import annotations

import copy
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sentinet.runs import weights
from sentinet.training import checkpoint
from sentinet.reporting import plots
from sentinet.runs import rundir
from sentinet.config.schema import Config
from sentinet.config.paths import resolve_paths
from sentinet.data.batching import EncodedDataset, make_loader
from sentinet.data.tokenize import Tokenizer
from sentinet.data.training_data import (
    TrainingData, class_counts, load_training_data, log_data, split_warning, unlabeled_texts,
)
from sentinet.data.vocab import Vocab
from sentinet.evaluation.decision import Bias, decide, describe_bias, tune_bias
from sentinet.runtime.device import resolve_device
from sentinet.errors import Interrupted, SentinetError
from sentinet.training.events import Callback, Events
from sentinet.fileio import check_own_tree, remove_partials
from sentinet.inference.predictor import predict_ids
from sentinet.labels import LabelSet
from sentinet.evaluation.metrics import all_scores, epoch_scores, full_report, headline, metric_name, pairs_noun, resolve_metric, score_of
from sentinet.models.classifier import SentimentClassifier
from sentinet.training.setup import new_model, restored_model
from sentinet.training.objective import ClassificationObjective, build_objective
from sentinet.training.optim import (
    Averager, Schedule, build_loss, build_optimizer, encoder_lr, parameter_groups, unfreeze_vectors,
)
from sentinet.training.progress import progress_lines
from sentinet.runs.provenance import versions
from sentinet.runs.log import RunLog
from sentinet.runtime.threads import ThreadGovernor
from sentinet.training.callbacks import GovernedThreads, epoch_loggers, require_tensorboard

__all__ = ["RunLog", "TrainResult", "TrainState", "train"]


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
    dev_gold: list[dict] = field(default_factory=list)
    machine: str = ""
    data: dict = field(default_factory=dict)  # how dev was chosen and what was trained on
    versions: dict = field(default_factory=dict)  # sentinet, torch, python, git commit


@dataclass
class Prepared:
    """What a run is made of before its loop starts, all checked before anything is written."""

    config: Config  # train()'s own copy: paths resolved, data.labels filled in
    data: TrainingData
    train_ids: list[list[int]]
    dev_ids: list[list[int]]
    vocab: Vocab
    model: SentimentClassifier
    loss_fn: nn.Module
    device: torch.device
    saved: dict | None  # the checkpoint being resumed, if any
    unlabeled_ids: list[list[int]] = field(default_factory=list)  # data.unlabeled (train.aux_lm only)


@dataclass
class TrainState:
    """The loop's moving parts and its progress (in ``result``): ``state_dict()`` is what
    last.pt holds, and ``load_state_dict()`` puts a run back exactly where it stopped."""

    model: SentimentClassifier
    objective: ClassificationObjective  # what a step minimises (train.aux_lm adds an LM loss)
    optimizers: list[torch.optim.Optimizer]
    schedule: Schedule
    averager: Averager
    loader: torch.utils.data.DataLoader
    frozen: bool  # the pretrained table never trains: it stays out of last.pt (model.pt has it)
    result: TrainResult
    epoch: int = 0  # the last finished epoch
    best_model: dict | None = None  # the best weights so far, minus the frozen table

    def state_dict(self, seconds: float) -> dict:
        r = self.result
        return {
            "epoch": self.epoch, "model": checkpoint.without_frozen(self.model.state_dict(), self.frozen),
            "averaged": checkpoint.without_frozen(self.averager.state_dict(), self.frozen),
            "optimizers": [o.state_dict() for o in self.optimizers], "scheduler": self.schedule.state_dict(),
            "sampler": self.loader.batch_sampler.generator.get_state(),
            "best_epoch": r.best_epoch, "best": r.best, "epochs": r.epochs,
            "best_model": self.best_model and checkpoint.without_frozen(self.best_model, self.frozen),
            "seconds": seconds,
            **self._objective_state(),
        }

    def _objective_state(self) -> dict:
        """The auxiliary objective's weights and unlabelled batch order (none without one)."""
        if not list(self.objective.parameters()):
            return {}
        return {"objective": self.objective.state_dict(), "objective_sampler": self.objective.sampler_state()}

    def load_state_dict(self, saved: dict, config: Config) -> None:
        """Everything but the live weights (the model was built from them): optimizers
        (the late-unfreezing one too), schedule, average, batch order, random generators."""
        self.epoch = saved["epoch"]
        if config.vectors.unfreeze_epoch and config.vectors.unfreeze_epoch <= self.epoch:
            self.optimizers.append(unfreeze_vectors(self.model, config))
        for optimizer, state in zip(self.optimizers, saved["optimizers"]):
            optimizer.load_state_dict(state)
        self.schedule.load_state_dict(saved["scheduler"])
        self.averager.load_state_dict(saved["averaged"])
        self.loader.batch_sampler.generator.set_state(saved["sampler"])
        checkpoint.restore_rng(saved)
        self.result.best_epoch, self.result.best, self.result.epochs = saved["best_epoch"], saved["best"], saved["epochs"]
        self.best_model = saved.get("best_model")
        if "objective" in saved:
            self.objective.load_state_dict(saved["objective"])
            self.objective.set_sampler_state(saved.get("objective_sampler"))


def train(config: Config, callbacks: Sequence[Callback] = (), dry_run: bool = False,
          resume: Path | None = None, into: Path | None = None) -> TrainResult:
    """Train one model as configured; returns where it went and its best dev scores.

    ``callbacks`` subscribe to the loop's events (``sentinet tune`` prunes trials from
    ``after_epoch`` by raising). ``dry_run`` stops once data, vectors and model are built,
    before anything is written. ``resume`` continues the run directory it names from its
    ``last.pt`` (its config.yaml is what ``config`` must hold), or starts it over when it was
    stopped before its first checkpoint. ``into`` names the new run's directory (group
    members) instead of ``run.output_dir/<name>-<time>``. ``config`` itself is not changed.
    A Ctrl-C finishes the run with the best epoch so far and raises ``Interrupted``; any other
    failure before the first checkpoint removes the new run's directory."""
    started = time.time()
    if resume is not None:
        check_own_tree(resume)  # a run from someone else: no link may lead its writes outside
    log = RunLog()
    prep = prepare(copy.deepcopy(config), resume, log)
    if dry_run:
        return TrainResult(run_dir=Path(), best_epoch=0, best={})
    state = new_state(prep)
    if prep.saved is not None:
        try:
            state.load_state_dict(prep.saved, prep.config)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
            raise checkpoint.damaged(resume / rundir.LAST, f"{type(exc).__name__}: {exc}") from None
        started -= prep.saved["seconds"]  # the run's time counts the part before the interruption
    run_dir = state.result.run_dir = open_run_dir(prep.config, resume, into)
    threads = cpu_threads(prep)
    progress = progress_lines(len(state.loader), prep.config.train.epochs, state.epoch + 1,
                              prep.config.run.progress_every)
    events = Events([threads, state.schedule, state.averager, progress,
                     *epoch_loggers(prep.config.run, state.result.epochs), *callbacks])
    try:
        start_run_dir(prep, run_dir, log, restarting=resume is not None)
        run_epochs(prep, state, events, log, started)
    except KeyboardInterrupt:
        stop_interrupted(state, run_dir, resume, log)
    except Exception as exc:
        if resume is None and not (run_dir / rundir.LAST).is_file():
            shutil.rmtree(run_dir, ignore_errors=True)  # failed before its first checkpoint
            raise
        if isinstance(exc, SentinetError):
            raise SentinetError(f"{exc}; {rundir.hint(run_dir)}") from None
        raise
    finally:
        events.close()
    state.result.machine = machine(prep.device, threads)
    return complete(prep, state.result, log, started)


# --------------------------------------------------------------------------------------
# Prepare: data, labels, vocabulary and vectors, model


def prepare(config: Config, resume: Path | None, log: RunLog) -> Prepared:
    """Read and check the data, build (or restore) the model; ``config`` is train()'s copy."""
    config = resolve_paths(config)
    t = config.train
    device = resolve_device(t.device)
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    torch.manual_seed(t.seed)

    data = load_training_data(config)
    resolve_metric(t.metric, data.labels)  # sentirueval needs its labels: say so before training
    tokenizer = Tokenizer(config.tokenizer)
    train_tokens = [tokenizer(r.text) for r, _ in data.train]
    dev_tokens = [tokenizer(r.text) for r in data.dev]
    log_data(data, log, t.metric)
    unlabeled_tokens = unlabeled_texts(config, data, tokenizer, log)
    if warning := split_warning(config, data):
        log(warning)
    config.data.labels = list(data.labels.values)  # saved with the run: predict uses these classes
    loss_fn = build_loss(t, [c for _, c in data.train], data.labels).to(device)  # checks class_weights
    cap = config.tokenizer.max_tokens
    if cut := sum(len(tokens) >= cap for tokens in (*train_tokens, *dev_tokens)):
        log(f"data: {cut} tweet(s) reached tokenizer.max_tokens ({cap}); their later tokens are dropped")

    saved = None
    if resume is None or not (resume / rundir.LAST).is_file():
        vocab, model = new_model(config, train_tokens, [*dev_tokens, *unlabeled_tokens], log,
                                 class_counts(data))
    else:
        saved, vocab, model = restored_model(config, resume)
    model = model.to(device)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"model: {config.model.encoder.name}, {n_params:,} trainable parameters, device {device}")
    if config.run.tensorboard:
        require_tensorboard()
    return Prepared(config, data, [vocab.encode(x) for x in train_tokens],
                    [vocab.encode(x) for x in dev_tokens], vocab, model, loss_fn, device, saved,
                    [vocab.encode(x) for x in unlabeled_tokens])


def new_state(prep: Prepared) -> TrainState:
    """Loader, optimizer, schedule and averager for the prepared model, at epoch 0."""
    t, model, data = prep.config.train, prep.model, prep.data
    sample_weights = None if set(data.weights) == {1.0} else data.weights
    train_set = EncodedDataset(prep.train_ids, [c for _, c in data.train], sample_weights)
    loader = make_loader(train_set, t.batch_size, shuffle=True, pool=t.bucket_pool, seed=t.seed)
    objective = build_objective(prep.loss_fn, t.aux_lm, model, len(prep.vocab), prep.train_ids,
                                prep.unlabeled_ids, t.batch_size, t.bucket_pool, t.seed).to(prep.device)
    params = parameter_groups(model, t.lr_scale, t.optimizer.lr, extra=list(objective.parameters()))
    optimizers = [build_optimizer(params, t.optimizer)]
    schedule = Schedule(t.scheduler, optimizers[0], total_steps=t.epochs * len(loader))
    result = TrainResult(run_dir=Path(), best_epoch=0, best={"score": -math.inf},
                         dev_gold=[r.labels for r in data.dev], labels=data.labels,
                         machine=machine(prep.device),
                         data={"split": data.description, "train": data.sources,
                               "class_counts": class_counts(data)}, versions=versions())
    # The frozen vectors stay out of last.pt only if they never train: model.pt holds them as loaded.
    frozen = not prep.config.vectors.unfreeze_epoch and not model.embedder.pretrained.weight.requires_grad
    return TrainState(model, objective, optimizers, schedule, Averager(t, model), loader, frozen, result)


# --------------------------------------------------------------------------------------
# The loop


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


def run_epochs(prep: Prepared, state: TrainState, events: Events, log: RunLog, started: float) -> None:
    """Train, score dev, commit, once per epoch, until the epochs or the patience run out."""
    config, t, result = prep.config, prep.config.train, state.result
    classes, gold = result.labels, result.dev_gold
    for epoch in range(state.epoch + 1, t.epochs + 1):
        if result.best_epoch and epoch - 1 - result.best_epoch >= t.patience:
            break  # resumed after the early stop was already due
        tick = time.time()
        if epoch == config.vectors.unfreeze_epoch:
            state.optimizers.append(unfreeze_vectors(state.model, config))
            log(f"epoch {epoch}: pretrained vectors unfrozen (lr {config.vectors.unfreeze_lr})")
        loss = train_epoch(state, prep.device, t.clip_grad_norm, f"epoch {epoch}/{t.epochs}", events)
        events.after_train_epoch(epoch)
        probs = predict_ids(state.averager.model, prep.dev_ids, prep.device)
        scores = epoch_scores(gold, probs, decide(probs, classes), classes, t.metric)
        events.after_scoring(epoch, scores)
        row = {"epoch": epoch, "loss": loss, **state.objective.epoch_stats(), **scores,
               "lr": encoder_lr(state.optimizers[0]), "seconds": time.time() - tick}
        with checkpoint.uninterrupted():  # the epoch is recorded whole or not at all
            improved = commit(state, epoch, row, scores, started)
            lm = f" (LM {row['lm_loss']:.4f})" if "lm_loss" in row else ""
            log(f"epoch {epoch:>3}/{t.epochs}  loss {loss:.4f}{lm}  dev {headline(scores)}"
                f"  ({row['seconds']:.1f}s){'  *best' if improved else ''}")
            write_metrics(result.run_dir, result)
            events.after_commit(epoch, row, result.run_dir)
        events.after_epoch(epoch, row, result.run_dir)
        if epoch - result.best_epoch >= t.patience:
            log(f"early stop: no better dev {metric_name(result.best)} for {t.patience} epochs")
            break


def train_epoch(state: TrainState, device: torch.device, clip: float | None,
                desc: str, events: Events) -> float:
    model = state.model
    model.train()
    state.objective.start_epoch()
    trained = [*model.parameters(), *state.objective.parameters()]
    total, count = 0.0, 0
    bar = tqdm(state.loader, desc=desc, leave=False, dynamic_ncols=True, disable=None)  # bars on a terminal only
    for batch in bar:
        batch = batch.to(device)
        loss = state.objective(model, batch)
        for opt in state.optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(trained, clip)
        for opt in state.optimizers:
            opt.step()
        model.apply_constraints()
        events.after_batch()
        total += loss.item() * len(batch.labels)
        count += len(batch.labels)
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


def commit(state: TrainState, epoch: int, row: dict, scores: dict, started: float) -> bool:
    """Record the epoch: model.pt when it is the best so far, then last.pt, the commit point
    (metrics.json follows: see checkpoint.py). Returns whether the epoch improved."""
    result, run_dir = state.result, state.result.run_dir
    result.epochs.append(row)
    state.epoch = epoch
    improved = scores["score"] > score_of(result.best)
    if improved:
        result.best_epoch, result.best = epoch, scores
        best = checkpoint.without_frozen(state.averager.model.state_dict(), state.frozen)
        state.best_model = {k: v.detach().clone() for k, v in best.items()}
        weights.save_weights(state.averager.model.state_dict(), run_dir / rundir.WEIGHTS,
                               {"best_epoch": epoch, "best": scores})
    checkpoint.save(run_dir, state.state_dict(time.time() - started))
    return improved


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
# Stopping and finishing


def stop_interrupted(state: TrainState, run_dir: Path, resume: Path | None, log: RunLog) -> None:
    """Ctrl-C: keep the run as its last checkpoint (to be finished with the best epoch so
    far), or, before the first one, leave nothing (a new run) or the run as it was."""
    state.result.interrupted = True
    if not (run_dir / rundir.LAST).is_file():
        if resume is None:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing in it worth keeping
            raise Interrupted("before the first epoch ended; no run directory was kept") from None
        raise Interrupted(f"before the first epoch ended; {run_dir} is as it was") from None
    log(f"interrupted after epoch {state.result.epochs[-1]['epoch']}: finishing the run with the best "
        f"epoch so far ({state.result.best_epoch})")  # how to resume is the last line, said once


def complete(prep: Prepared, result: TrainResult, log: RunLog, started: float) -> TrainResult:
    """Finish the run directory; an interrupted run stays marked incomplete and raises."""
    run_dir = result.run_dir
    try:
        finish(prep, result, log, started)
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


def finish(prep: Prepared, result: TrainResult, log: RunLog, started: float) -> None:
    """Re-score dev with the saved best model, tune the decision rule if asked, write the
    final metrics: after this the run directory is complete."""
    run_dir, gold, classes = result.run_dir, result.dev_gold, result.labels
    best = weights.load_run(run_dir, prep.device)
    result.dev_probs = predict_ids(best.model, prep.dev_ids, prep.device)
    if left_out := rundir.save_dev_predictions(run_dir, [r.id for r in prep.data.dev], gold, result.dev_probs):
        log(left_out)
    tune_decision, metric = prep.config.train.tune_decision, prep.config.train.metric
    if tune_decision and resolve_metric(metric, classes) != "sentirueval":
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


def cpu_threads(prep: Prepared) -> Callback:
    """``train.num_threads`` when set (prepare() applied it); else a governor that gives torch
    the cores other processes leave free, up to torch's own default (sentinet/runtime/threads.py)."""
    if prep.config.train.num_threads or prep.device.type != "cpu":
        return Callback()
    return GovernedThreads(ThreadGovernor(torch.set_num_threads, most=torch.get_num_threads()))


def machine(device: torch.device, threads: Callback | None = None) -> str:
    """Where a run trained, recorded beside its scores (timings mean nothing without it)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if isinstance(threads, GovernedThreads):
        return f"CPU, {threads.governor.describe()}"
    return f"CPU, {torch.get_num_threads()} threads"


def write_metrics(run_dir: Path, result: TrainResult) -> None:
    rundir.write_metrics(run_dir, {
        "best_epoch": result.best_epoch,
        "best": result.best,
        "labels": list(result.labels.values),
        "decision_bias": None if result.decision is None else list(result.decision),
        "epochs": result.epochs,
        "seconds": result.seconds,
        "machine": result.machine,
        "interrupted": result.interrupted,
        "data": result.data,
        "versions": result.versions,
    })
