"""Training: config → data → vocabulary and vectors → model → epochs with dev selection.

The model is selected on the dev split by the official SentiRuEval F-macro: the best epoch's
weights are saved (atomically) as soon as they are found, and training stops after
``train.patience`` epochs without improvement.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sentinet import artifacts, checkpoint, faults, incomplete, plots
from sentinet.config import (
    Config, DataConfig, OptimizerConfig, SchedulerConfig, TrainConfig, VectorsConfig,
    resolve_paths, train_files,
)
from sentinet.data.batching import EncodedDataset, make_loader
from sentinet.labels import LabelSet, check_known, require_labels, training_pairs
from sentinet.data.readers import Record, read_records
from sentinet.data.splits import carve, record_time
from sentinet.data.tokenize import Tokenizer
from sentinet.data.vocab import Vocab, plan_vocab, vocab_from_plan
from sentinet.decision import Bias, decide, describe, tune_bias
from sentinet.device import resolve_device
from sentinet.embeddings import (
    VectorStore, coverage, default_cache_dir, open_sources, train_word2vec,
)
from sentinet.errors import Interrupted, SentinetError
from sentinet.fileio import atomic_write_text, remove_partials
from sentinet.inference import predict_ids
from sentinet.metrics import epoch_scores, full_report
from sentinet.models.classifier import Embedder, SentimentClassifier
from sentinet.provenance import versions


class RunLog:
    """Prints above the progress bars and appends the same lines to train.log.

    Lines logged before the run directory exists are kept and written once it does, so
    a run that fails on bad input leaves no directory behind but a full log otherwise.
    """

    def __init__(self) -> None:
        self.path: Path | None = None
        self.pending: list[str] = []

    def attach(self, path: Path) -> None:
        self.path = path
        self._write(self.pending)

    def __call__(self, message: str) -> None:
        tqdm.write(message)
        if self.path is None:
            self.pending.append(message)
        else:
            self._write([message])

    def _write(self, lines: list[str]) -> None:
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in lines)
        except OSError as exc:  # a full disk names the file, like every other write
            raise SentinetError(f"{self.path}: cannot write ({exc.strerror or exc})") from None


# --------------------------------------------------------------------------------------
# Data and vectors


@dataclass
class Splits:
    train: list[tuple[Record, int]]  # (record, class id) kept by the label rule
    dev: list[Record]  # every labelled dev record: all its (tweet, company) pairs are scored
    weights: list[float]  # per training tweet: its file's data.train_weights entry
    description: str  # how dev was chosen (and, for temporal splits, which periods)
    sources: list[dict]  # what the run trained on: file, tweets, weight
    labels: LabelSet  # the classes: data.labels, or those found in the data


def read_labelled(path: str, d: DataConfig) -> list[Record]:
    records = read_records(path, d.format, text_column=d.text_column, label_column=d.label_column,
                           id_column=d.id_column, date_column=d.date_column, quoting=d.quoting)
    require_labels(records, path)
    return [r for r in records if r.labels]


def load_splits(config: Config) -> Splits:
    """Training tweets and dev records. Dev comes from data.dev or is carved from the first
    train file; further train files only add training tweets, minus (under a temporal split)
    those written in the dev period, which a model of the past could not have seen."""
    d = config.data
    files = train_files(d)
    file_weights = d.train_weights or [1.0] * len(files)
    records = read_labelled(files[0], d)
    if d.dev:
        train, dev, description, dev_period = records, read_labelled(d.dev, d), f"dev file {d.dev}", None
    else:
        split = carve(records, d)
        train, dev, description, dev_period = split.train, split.dev, split.description, split.dev_period
    parts = [train] + [read_labelled(f, d) for f in files[1:]]
    labels = resolve_labels(d, [(files[0], records), *zip(files[1:], parts[1:])]
                            + ([(d.dev, dev)] if d.dev else []))
    pairs, weights, sources = [], [], []
    for i, (path, part, weight) in enumerate(zip(files, parts, file_weights)):
        dropped = 0
        if i and dev_period:
            lo, hi = dev_period[0], dev_period[1] if d.folds else math.inf
            kept = [r for r in part if not lo <= record_time(r) <= hi]
            dropped, part = len(part) - len(kept), kept
        kept_pairs = training_pairs(part, d.conflict_policy, labels)
        pairs += kept_pairs
        weights += [weight] * len(kept_pairs)
        sources.append({"path": path, "tweets": len(kept_pairs), "weight": weight,
                        "dropped_in_dev_period": dropped})
    if not pairs:
        raise SentinetError(f"{files[0]}: no tweet left for training after the label rule")
    return Splits(pairs, dev, weights, description, sources, labels)


def resolve_labels(d: DataConfig, files: list[tuple[str, list[Record]]]) -> LabelSet:
    """data.labels when given (every label in the data must be one of them), else the
    labels the training and dev files hold."""
    if not d.labels:
        return LabelSet.from_data(v for _, records in files for r in records for v in r.labels.values())
    labels = LabelSet.of(d.labels)
    for path, records in files:
        check_known(records, labels, path)
    return labels


def open_store(cfg: VectorsConfig, train_tokens: list[list[str]], seed: int,
               log: RunLog) -> tuple[VectorStore, dict]:
    """The configured vectors (or word2vec trained on the training texts, cached), and the
    sources record a run keeps so predict time can reopen them."""
    if cfg.path:
        log(f"vectors: loading {cfg.path}")
        sources = {"path": cfg.path, "format": cfg.format}
    else:
        cache = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
        log(f"vectors: none given; training word2vec on {len(train_tokens)} training texts (cache {cache})")
        sources = {"path": str(train_word2vec(train_tokens, cfg.word2vec, cache, seed)), "format": "word2vec"}
    for extra in cfg.concat:
        log(f"vectors: concatenating {extra}")
    sources["concat"] = list(cfg.concat)
    return open_sources(sources, expected_dim=cfg.dim), sources


def build_optimizer(params, cfg: OptimizerConfig, lr: float | None = None) -> torch.optim.Optimizer:
    lr = cfg.lr if lr is None else lr
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


class Schedule:
    """One interface over torch's schedulers: ``after_batch`` and ``after_epoch(dev score)``."""

    def __init__(self, cfg: SchedulerConfig, optimizer: torch.optim.Optimizer, total_steps: int):
        self.name = cfg.name
        sched = torch.optim.lr_scheduler
        if cfg.name == "step":
            self.scheduler = sched.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        elif cfg.name == "plateau":
            self.scheduler = sched.ReduceLROnPlateau(optimizer, mode="max", factor=cfg.gamma,
                                                     patience=cfg.patience)
        elif cfg.name == "linear":
            warmup = max(1, int(cfg.warmup * total_steps))

            def ramp(step: int) -> float:  # up to 1 over the warmup, then down to 0 at the end
                return min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))

            self.scheduler = sched.LambdaLR(optimizer, ramp)
        else:
            self.scheduler = None

    def after_batch(self) -> None:
        if self.name == "linear":
            self.scheduler.step()

    def after_epoch(self, dev_score: float) -> None:
        if self.name == "step":
            self.scheduler.step()
        elif self.name == "plateau":
            self.scheduler.step(dev_score)

    def state_dict(self) -> dict:
        return {} if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)


class WeightedLoss(nn.Module):
    """Cross-entropy with class weights and label smoothing, averaged with per-tweet weights
    (data.train_weights): sum(w_i * loss_i) / sum(w_i * class_weight[y_i]). With every tweet
    weight 1 this is exactly torch's own mean reduction."""

    def __init__(self, class_weight: torch.Tensor | None, label_smoothing: float):
        super().__init__()
        self.ce = nn.CrossEntropyLoss(weight=class_weight, label_smoothing=label_smoothing,
                                      reduction="none")

    def forward(self, logits: torch.Tensor, labels: torch.Tensor,
                weights: torch.Tensor | None = None) -> torch.Tensor:
        losses = self.ce(logits, labels)
        w = torch.ones_like(losses) if weights is None else weights
        norm = w if self.ce.weight is None else w * self.ce.weight[labels]
        return (losses * w).sum() / norm.sum()


def build_loss(cfg: TrainConfig, labels: list[int], classes: LabelSet) -> WeightedLoss:
    """Cross-entropy with optional class weights ("balanced": inverse frequency) and smoothing."""
    weights = None
    n = len(classes)
    if cfg.class_weights == "balanced":
        counts = np.bincount(labels, minlength=n).astype(np.float64)
        weights = len(labels) / (n * np.maximum(counts, 1))
    elif isinstance(cfg.class_weights, list):
        if len(cfg.class_weights) != n:
            raise SentinetError(f"train.class_weights: {len(cfg.class_weights)} weights for the "
                                f"{n} classes {list(classes.values)} (one per class, in that order)")
        weights = np.asarray(cfg.class_weights, dtype=np.float64)
    weight = None if weights is None else torch.tensor(weights, dtype=torch.float32)
    return WeightedLoss(weight, cfg.label_smoothing)


class Averager:
    """Weight averaging from torch.optim.swa_utils: EMA after every optimizer step, or SWA's
    equal average of end-of-epoch weights from ``swa_start``. ``model`` is what dev scoring
    and the checkpoint use: the average once it exists, else the live weights."""

    def __init__(self, cfg: TrainConfig, model: nn.Module):
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, get_swa_multi_avg_fn

        self.kind, self.swa_start, self.live = cfg.averaging, cfg.swa_start, model
        self.average = None
        if self.kind == "ema":
            self.average = AveragedModel(model, multi_avg_fn=self._skip_frozen(get_ema_multi_avg_fn(cfg.ema_decay)))
        elif self.kind == "swa":
            self.average = AveragedModel(model, multi_avg_fn=self._skip_frozen(get_swa_multi_avg_fn()))

    def _skip_frozen(self, average_fn: Callable) -> Callable:
        """The frozen vectors are most of the model and never change (their average is
        themselves), so each update averages only what trains — the same result, far less work."""
        def update(averaged: list, current: list, n_averaged) -> None:
            frozen = {p.data_ptr() for p in self.live.parameters() if not p.requires_grad}
            keep = [i for i, c in enumerate(current) if c.data_ptr() not in frozen]
            if keep:
                average_fn([averaged[i] for i in keep], [current[i] for i in keep], n_averaged)
        return update

    def after_step(self) -> None:
        if self.kind == "ema":
            self.average.update_parameters(self.live)

    def after_epoch(self, epoch: int) -> None:
        if self.kind == "swa" and epoch >= self.swa_start:
            self.average.update_parameters(self.live)

    def state_dict(self) -> dict:
        return {} if self.average is None else self.average.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.average is not None:
            self.average.load_state_dict(state)

    @property
    def model(self) -> nn.Module:
        if self.average is not None and int(self.average.n_averaged) > 0:
            return self.average.module
        return self.live


# --------------------------------------------------------------------------------------
# The loop


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


def train_epoch(model: SentimentClassifier, loader, optimizers: list, schedule: Schedule,
                loss_fn, device, clip: float | None, desc: str, averager: Averager) -> float:
    model.train()
    total, count = 0.0, 0
    bar = tqdm(loader, desc=desc, leave=False, dynamic_ncols=True, disable=None)  # bars on a terminal only
    for batch in bar:
        batch = batch.to(device)
        loss = loss_fn(model(batch.ids, batch.lengths), batch.labels, batch.weights)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        for opt in optimizers:
            opt.step()
        schedule.after_batch()
        model.apply_constraints()
        averager.after_step()
        total += loss.item() * len(batch.labels)
        count += len(batch.labels)
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


def build_model(config: Config, store: VectorStore, vocab: Vocab, num_classes: int) -> SentimentClassifier:
    """Only the vocabulary's rows are looked up: a 250K-word file costs 15K rows in memory."""
    rows = store.lookup(vocab.words[vocab.n_learned:])
    embedder = Embedder(torch.from_numpy(np.asarray(rows, dtype=np.float32)), vocab.n_learned,
                        config.vectors.freeze, learn_oov=config.vectors.oov != "zero",
                        multichannel=config.model.multichannel)
    return SentimentClassifier(embedder, config.model, num_classes)


def unfreeze_vectors(model: SentimentClassifier, config: Config) -> torch.optim.Optimizer:
    """Late unfreezing: the pretrained table trains from now on with its own optimizer and
    learning rate (unscheduled), leaving the main optimizer and its schedule untouched."""
    weight = model.embedder.pretrained.weight
    weight.requires_grad_(True)
    return build_optimizer([weight], config.train.optimizer, lr=config.vectors.unfreeze_lr)


def train(config: Config, on_epoch: Callable[[int, dict], None] | None = None,
          dry_run: bool = False, resume: Path | None = None, into: Path | None = None) -> TrainResult:
    """Train one model as configured; returns where it went and its best dev scores.

    ``on_epoch(epoch, row)`` is called after each epoch's dev scoring and metrics write
    (``sentinet tune`` prunes trials from it by raising). ``dry_run`` stops once data,
    vectors and model are built, before anything is written. ``resume`` continues the run
    directory it names from its ``last.pt`` (its config.yaml is what ``config`` must hold),
    or starts it over when it was stopped before its first checkpoint. ``into`` names the new
    run's directory (group members) instead of ``run.output_dir/<name>-<time>``.
    A Ctrl-C finishes the run with the best epoch so far and raises ``Interrupted``; any other
    failure before the first checkpoint removes the new run's directory."""
    started = time.time()
    config = resolve_paths(config)
    t = config.train
    device = resolve_device(t.device)
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    torch.manual_seed(t.seed)

    log = RunLog()
    splits = load_splits(config)
    tokenizer = Tokenizer(config.tokenizer)
    train_tokens = [tokenizer(r.text) for r, _ in splits.train]
    dev_tokens = [tokenizer(r.text) for r in splits.dev]
    log(f"data: {len(splits.train)} training tweets, {len(splits.dev)} dev tweets "
        f"({sum(len(r.labels) for r in splits.dev)} scored dev pairs); {splits.description}")
    for source in splits.sources if len(splits.sources) > 1 else []:
        dropped = source["dropped_in_dev_period"]
        log(f"data: {source['tweets']} training tweets from {source['path']} (weight {source['weight']:g})"
            + (f"; {dropped} from the dev period left out" if dropped else ""))
    classes = splits.labels
    config.data.labels = list(classes.values)  # saved with the run: predict uses these classes
    counts = Counter(classes.values[c] for _, c in splits.train)
    metric = "official SentiRuEval F-macro" if classes.sentiment else "macro-F1 over all classes"
    log(f"labels: {', '.join(f'{v} ({counts[v]})' for v in classes.values)} training tweets; "
        f"model selection by {metric}")
    loss_fn = build_loss(t, [c for _, c in splits.train], classes).to(device)  # checks class_weights
    cap = config.tokenizer.max_tokens
    if cut := sum(len(tokens) >= cap for tokens in (*train_tokens, *dev_tokens)):
        log(f"data: {cut} tweet(s) reached tokenizer.max_tokens ({cap}); their later tokens are dropped")

    saved = None
    if resume is None or not (resume / checkpoint.LAST).is_file():
        vocab, model = new_model(config, train_tokens, dev_tokens, log, len(splits.labels))
    else:
        saved = checkpoint.load(resume)
        vocab = Vocab.load(resume / artifacts.VOCAB)
        table = artifacts.load_weights(resume / artifacts.WEIGHTS)[checkpoint.FROZEN]
        for key in ("model", "averaged", "best_model"):
            if saved.get(key) is not None:
                saved[key] = checkpoint.with_frozen(saved[key], table)
        model = artifacts.model_from_state(config, vocab, saved["model"], resume / checkpoint.LAST,
                                           freeze=config.vectors.freeze)
    model = model.to(device)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"model: {config.model.encoder.name}, {n_params:,} trainable parameters, device {device}")
    if config.run.tensorboard:
        plots.require_tensorboard()
    if dry_run:
        return TrainResult(run_dir=Path(), best_epoch=0, best={})

    labels = [c for _, c in splits.train]
    weights = None if set(splits.weights) == {1.0} else splits.weights
    train_set = EncodedDataset([vocab.encode(x) for x in train_tokens], labels, weights)
    dev_ids = [vocab.encode(x) for x in dev_tokens]
    loader = make_loader(train_set, t.batch_size, shuffle=True, pool=t.bucket_pool, seed=t.seed)
    optimizers = [build_optimizer([p for p in model.parameters() if p.requires_grad], t.optimizer)]
    schedule = Schedule(t.scheduler, optimizers[0], total_steps=t.epochs * len(loader))
    gold = [r.labels for r in splits.dev]

    averager = Averager(t, model)
    result = TrainResult(run_dir=Path(), best_epoch=0, best={"f_macro": -math.inf},
                         dev_gold=gold, labels=classes, machine=machine(device),
                         data={"split": splits.description, "train": splits.sources},
                         versions=versions())
    first_epoch, best_state = 1, None
    if saved is not None:
        first_epoch = saved["epoch"] + 1
        if config.vectors.unfreeze_epoch and config.vectors.unfreeze_epoch < first_epoch:
            optimizers.append(unfreeze_vectors(model, config))
        for optimizer, state in zip(optimizers, saved["optimizers"]):
            optimizer.load_state_dict(state)
        schedule.load_state_dict(saved["scheduler"])
        averager.load_state_dict(saved["averaged"])
        loader.batch_sampler.generator.set_state(saved["sampler"])
        checkpoint.restore_rng(saved)
        result.best_epoch, result.best, result.epochs = saved["best_epoch"], saved["best"], saved["epochs"]
        best_state = saved.get("best_model")
        started -= saved["seconds"]  # the run's time counts the part before the interruption

    run_dir = result.run_dir = open_run_dir(config, resume, into)
    # The frozen vectors stay out of last.pt only if they never train: model.pt holds them as loaded.
    frozen = not config.vectors.unfreeze_epoch and not model.embedder.pretrained.weight.requires_grad
    board = None
    try:
        log.attach(run_dir / artifacts.LOG)
        if saved is None:
            over = " (starting over: it stopped before its first checkpoint)" if resume else ""
            log(f"run: {run_dir}{over}")
            artifacts.write_config(config, run_dir / artifacts.CONFIG)
            vocab.save(run_dir / artifacts.VOCAB)
        else:
            log(f"run: {run_dir}: resuming after epoch {saved['epoch']}")
            restore_best(run_dir, saved, log)
        board = plots.TensorBoard(run_dir) if config.run.tensorboard else None
        for epoch in range(first_epoch, t.epochs + 1):
            if result.best_epoch and epoch - 1 - result.best_epoch >= t.patience:
                break  # resumed after the early stop was already due
            tick = time.time()
            if epoch == config.vectors.unfreeze_epoch:
                optimizers.append(unfreeze_vectors(model, config))
                log(f"epoch {epoch}: pretrained vectors unfrozen (lr {config.vectors.unfreeze_lr})")
            loss = train_epoch(model, loader, optimizers, schedule, loss_fn, device,
                               t.clip_grad_norm, f"epoch {epoch}/{t.epochs}", averager)
            averager.after_epoch(epoch)
            probs = predict_ids(averager.model, dev_ids, device)
            scores = epoch_scores(gold, probs, decide(probs, classes), classes)
            schedule.after_epoch(scores["f_macro"])
            row = {"epoch": epoch, "loss": loss, **scores, "lr": optimizers[0].param_groups[0]["lr"],
                   "seconds": time.time() - tick}
            with checkpoint.uninterrupted():  # the epoch is recorded whole or not at all
                result.epochs.append(row)
                improved = scores["f_macro"] > result.best["f_macro"]
                if improved:  # saved in the order model.pt, last.pt (the commit), metrics: see checkpoint.py
                    result.best_epoch, result.best = epoch, scores
                    best = checkpoint.without_frozen(averager.model.state_dict(), frozen)
                    best_state = {k: v.detach().clone() for k, v in best.items()}
                    artifacts.save_weights(averager.model.state_dict(), run_dir / artifacts.WEIGHTS,
                                           {"best_epoch": epoch, "best": scores})
                faults.pause(run_dir, "weights", epoch)
                checkpoint.save(run_dir, {
                    "epoch": epoch, "model": checkpoint.without_frozen(model.state_dict(), frozen),
                    "averaged": checkpoint.without_frozen(averager.state_dict(), frozen),
                    "optimizers": [o.state_dict() for o in optimizers], "scheduler": schedule.state_dict(),
                    "sampler": loader.batch_sampler.generator.get_state(),
                    "best_epoch": result.best_epoch, "best": result.best, "epochs": result.epochs,
                    "best_model": best_state and checkpoint.without_frozen(best_state, frozen),
                    "seconds": time.time() - started,
                })
                faults.pause(run_dir, "metrics", epoch)
                log(f"epoch {epoch:>3}/{t.epochs}  loss {loss:.4f}  dev F-macro {scores['f_macro']:.4f}"
                    f"  F-micro {scores['f_micro']:.4f}  ({row['seconds']:.1f}s){'  *best' if improved else ''}")
                _write_metrics(run_dir, result)
                plots.write_csv(run_dir, result.epochs)
                if board is not None:
                    board.epoch(row)
            faults.pause(run_dir, "epoch", epoch)
            faults.interrupt_after(run_dir, epoch)
            if on_epoch is not None:
                on_epoch(epoch, row)
            if epoch - result.best_epoch >= t.patience:
                log(f"early stop: no better dev F-macro for {t.patience} epochs")
                break
    except KeyboardInterrupt:
        result.interrupted = True
        if not (run_dir / checkpoint.LAST).is_file():
            if resume is None:
                shutil.rmtree(run_dir, ignore_errors=True)  # nothing in it worth keeping
                raise Interrupted("before the first epoch ended; no run directory was kept") from None
            raise Interrupted(f"before the first epoch ended; {run_dir} is as it was") from None
        log(f"interrupted after epoch {result.epochs[-1]['epoch']}: model.pt holds the best epoch "
            f"so far ({result.best_epoch}); {incomplete.hint(run_dir)}")
    except Exception as exc:
        if resume is None and not (run_dir / checkpoint.LAST).is_file():
            shutil.rmtree(run_dir, ignore_errors=True)  # failed before its first checkpoint
            raise
        if isinstance(exc, SentinetError):
            raise SentinetError(f"{exc}; {incomplete.hint(run_dir)}") from None
        raise
    finally:
        if board is not None:
            board.close()

    try:
        finish(result, run_dir, dev_ids, splits, gold, device, log, started, t.tune_decision)
    except KeyboardInterrupt:
        raise Interrupted(f"while {run_dir} was being finished; {incomplete.hint(run_dir)}") from None
    except SentinetError as exc:
        raise SentinetError(f"{exc}; {incomplete.hint(run_dir)}") from None
    if result.interrupted:
        incomplete.mark(run_dir, f"interrupted after epoch {result.epochs[-1]['epoch']}; "
                        f"model.pt holds the best epoch so far ({result.best_epoch})")
        raise Interrupted(f"{run_dir} holds the best epoch so far ({result.best_epoch}); "
                          f"{incomplete.hint(run_dir)}", result)
    incomplete.clear(run_dir)
    return result


def open_run_dir(config: Config, resume: Path | None, into: Path | None) -> Path:
    """A new run directory marked incomplete, or the one to resume, cleared of the temp
    files a killed save leaves and marked incomplete until it finishes again."""
    if resume is None:
        if into is not None:
            return artifacts.create_run_dir(into)
        return artifacts.new_run_dir(config.run.output_dir, config.run.name)
    remove_partials(resume)
    incomplete.mark(resume, incomplete.TRAINING)
    return resume


def restore_best(run_dir: Path, saved: dict, log: RunLog) -> None:
    """A kill between the model.pt save and the last.pt save leaves model.pt an epoch ahead
    of the checkpoint; put back the best weights the checkpoint knows, so that the run goes
    on from one consistent state (whatever the resumed epoch then finds)."""
    path = run_dir / artifacts.WEIGHTS
    record = artifacts.load_record(path)
    if saved.get("best_model") is None or record.get("best_epoch") == saved["best_epoch"]:
        return
    log(f"run: {path} held epoch {record.get('best_epoch')}, saved after the last checkpoint; "
        f"restoring the checkpoint's best epoch {saved['best_epoch']}")
    record = {"best_epoch": saved["best_epoch"], "best": saved["best"]}
    artifacts.save_weights(saved["best_model"], path, record)


def new_model(config: Config, train_tokens: list[list[str]], dev_tokens: list[list[str]],
              log: RunLog, num_classes: int) -> tuple[Vocab, SentimentClassifier]:
    """Vocabulary from the training (and dev) words, and a model over their vectors."""
    store, sources = open_store(config.vectors, train_tokens, config.train.seed, log)
    plan = plan_vocab(train_tokens, dev_tokens, store.__contains__,
                      config.vectors.oov, config.vectors.oov_min_count)
    vocab = vocab_from_plan(plan, {**sources, "dim": store.dim})
    token_cov, type_cov = coverage(plan.counts, store)
    log(f"vectors: dim {store.dim}; training coverage {token_cov:.1%} of tokens, "
        f"{type_cov:.1%} of {len(plan.counts)} types; vocabulary {len(vocab)} "
        f"({len(vocab) - vocab.n_learned} pretrained rows, {vocab.n_learned} trainable rows, "
        f"oov policy '{config.vectors.oov}')")
    return vocab, build_model(config, store, vocab, num_classes)  # only the rows the model needs are kept


def finish(result: TrainResult, run_dir: Path, dev_ids: list[list[int]], splits: Splits,
           gold: list[dict], device: torch.device, log: RunLog, started: float,
           tune_decision: bool) -> None:
    """Re-score dev with the saved best model, tune the decision rule if asked, write the
    final metrics: after this the run directory is complete."""
    best = artifacts.load_run(run_dir, device)
    result.dev_probs = predict_ids(best.model, dev_ids, device)
    artifacts.save_dev_predictions(run_dir, [r.id for r in splits.dev], gold, result.dev_probs)
    classes = result.labels
    if tune_decision and classes.sentiment is None:
        log("decision rule: not tuned (train.tune_decision favours the official F-macro's "
            "negative and positive classes; these labels are not SentiRuEval's)")
    elif tune_decision:
        result.decision, tuned = tune_bias(result.dev_probs, gold, classes)
        artifacts.save_decision(run_dir, result.decision)
        log(f"decision rule tuned on dev: bias {describe(result.decision, classes)} "
            f"(dev F-macro {result.best['f_macro']:.4f} → {tuned:.4f}; optimistic: tuned on the same dev set)")
    result.seconds = time.time() - started
    report = full_report(gold, decide(result.dev_probs, classes, result.decision), classes)
    result.best = {k: v for k, v in report.items() if k != "report"}
    _write_metrics(run_dir, result)
    plots.write_pictures(run_dir, result.epochs, result.best_epoch, report["confusion"], classes.names, log)
    log(f"best epoch {result.best_epoch}: dev F-macro {report['f_macro']:.4f}  "
        f"F-micro {report['f_micro']:.4f}  macro-F1 (all classes) {report['macro_f1']:.4f}  "
        f"({result.seconds:.0f}s)\n{report['report']}")


def machine(device: torch.device) -> str:
    """Where a run trained, recorded beside its scores (timings mean nothing without it)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} threads"


def _write_metrics(run_dir: Path, result: TrainResult) -> None:
    data = {
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
    }
    atomic_write_text(run_dir / artifacts.METRICS, json.dumps(data, indent=2))
