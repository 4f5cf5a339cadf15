"""Training: config → data → vocabulary and vectors → model → epochs with dev selection.

``train()`` reads top to bottom: prepare (data, labels, vocabulary, model: sentinet.training.setup)
→ restore a checkpoint or start fresh → open the run directory → per epoch: train, score dev,
commit → close the run (final scores and marks: sentinet.training.bookkeeping). The model is
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
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from sentinet.runs import weights
from sentinet.training import checkpoint
from sentinet.runs import rundir
from sentinet.config.schema import Config
from sentinet.data.batching import make_loader
from sentinet.data.training_data import class_counts
from sentinet.evaluation.decision import decide
from sentinet.errors import SentinetError
from sentinet.runtime import signals
from sentinet.training.bookkeeping import (
    TrainResult, close_run, machine, open_run_dir, start_run_dir, stop_interrupted, write_metrics,
)
from sentinet.training.events import Callback, Events
from sentinet.fileio import check_own_tree
from sentinet.inference.predictor import predict_ids
from sentinet.evaluation.metrics import epoch_scores, headline, metric_name, score_of
from sentinet.models.classifier import SentimentClassifier
from sentinet.training.setup import Prepared, prepare
from sentinet.training.objective import ClassificationObjective, build_objective
from sentinet.training.optim import (
    Averager, Schedule, build_optimizer, encoder_lr, parameter_groups, unfreeze_vectors,
)
from sentinet.training.progress import progress_lines
from sentinet.training.teacher import training_set
from sentinet.runs.provenance import versions
from sentinet.runs.log import RunLog
from sentinet.runtime.threads import ThreadGovernor
from sentinet.training.callbacks import GovernedThreads, epoch_loggers

__all__ = ["RunLog", "TrainResult", "TrainState", "train"]


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
          resume: Path | None = None, into: Path | None = None, quiet: bool = False) -> TrainResult:
    """Train one model as configured; returns where it went and its best dev scores.

    ``callbacks`` subscribe to the loop's events (``sentinet tune`` prunes trials from
    ``after_epoch`` by raising). ``dry_run`` stops once data, vectors and model are built,
    before anything is written. ``resume`` continues the run directory it names from its
    ``last.pt`` (its config.yaml is what ``config`` must hold), or starts it over when it was
    stopped before its first checkpoint. ``into`` names the new run's directory (group
    members) instead of ``run.output_dir/<name>-<time>``. ``config`` itself is not changed.
    ``quiet``: the log goes to train.log only, not the terminal (a tune trial's).
    A Ctrl-C finishes the run with the best epoch so far and raises ``Interrupted``; any other
    failure before the first checkpoint removes the new run's directory."""
    started = time.time()
    if resume is not None:
        check_own_tree(resume)  # a run from someone else: no link may lead its writes outside
    log = RunLog(echo=not quiet)
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
        stop_interrupted(state.result, run_dir, resume, log)
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
    return close_run(prep, state.result, log, started)


def new_state(prep: Prepared) -> TrainState:
    """Loader, optimizer, schedule and averager for the prepared model, at epoch 0."""
    t, model, data = prep.config.train, prep.model, prep.data
    train_set = training_set(data, prep.train_ids, prep.soft)  # gold class ids, or train.distill's rows
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
                               "class_counts": class_counts(data)}, versions=versions(),
                         distilled=prep.soft and prep.soft.record)
    # The frozen vectors stay out of last.pt only if they never train: model.pt holds them as loaded.
    frozen = not prep.config.vectors.unfreeze_epoch and not model.embedder.pretrained.weight.requires_grad
    return TrainState(model, objective, optimizers, schedule, Averager(t, model), loader, frozen, result)


# --------------------------------------------------------------------------------------
# The loop


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
        with signals.deferred_interrupts():  # the epoch is recorded whole or not at all
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


def cpu_threads(prep: Prepared) -> Callback:
    """``train.num_threads`` when set (prepare() applied it); else a governor that gives torch
    the cores other processes leave free, up to torch's own default (sentinet/runtime/threads.py)."""
    if prep.config.train.num_threads or prep.device.type != "cpu":
        return Callback()
    return GovernedThreads(ThreadGovernor(torch.set_num_threads, most=torch.get_num_threads()))
