"""Optimisation: the optimizer, learning-rate schedule, loss and weight averaging a run trains
with. The schedule and the averager subscribe to the training loop's events (see
``sentinet.training.loop.Callback``); the loop never names them."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from sentinet.config.schema import Config, LrScaleConfig, OptimizerConfig, SchedulerConfig, TrainConfig
from sentinet.errors import SentinetError
from sentinet.training.events import Callback
from sentinet.labels import LabelSet


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


# A classifier's top-level modules, by the train.lr_scale part they train under (a wide part
# is another output layer: it trains with the head).
PARTS = {"embedder": "embeddings", "encoder": "encoder", "head": "head", "wide": "head"}


def parameter_groups(model: nn.Module, scale: LrScaleConfig, lr: float, extra: list | None = None) -> list:
    """The trainable parameters as optimizer groups at ``lr`` times each part's scale
    (train.lr_scale); a part scaled to 0 stops training. ``extra`` (the training objective's
    own parameters) trains at ``lr``. With every scale 1 this is the plain parameter list, so
    checkpoints of runs without scales keep their one group."""
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    extra = list(extra or [])
    scales = {part: getattr(scale, part) for part in PARTS.values()}
    if set(scales.values()) == {1.0}:
        return [p for _, p in trainable] + extra
    groups: dict[str, list] = {part: [] for part in scales}
    for name, param in trainable:
        groups[PARTS.get(name.split(".")[0], "encoder")].append(param)
    for part, params in groups.items():
        if scales[part] == 0:
            for param in params:
                param.requires_grad_(False)
    groups = [{"params": params, "lr": lr * scales[part], "name": part}
              for part, params in groups.items() if params and scales[part] > 0]
    return groups + ([{"params": extra, "lr": lr, "name": "aux_lm"}] if extra else [])


def encoder_lr(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate an epoch row reports: the encoder's, when the parts have their own."""
    groups = optimizer.param_groups
    return next((g["lr"] for g in groups if g.get("name") == "encoder"), groups[0]["lr"])


class Schedule(Callback):
    """One interface over torch's schedulers, stepped by the loop's events: per batch
    (linear warmup and decay) or per epoch on the dev score (step, plateau)."""

    def __init__(self, cfg: SchedulerConfig, optimizer: torch.optim.Optimizer, total_steps: int):
        self.name, self.total_steps = cfg.name, total_steps
        sched = torch.optim.lr_scheduler
        if cfg.name == "step":
            self.scheduler = sched.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        elif cfg.name == "plateau":
            self.scheduler = sched.ReduceLROnPlateau(optimizer, mode="max", factor=cfg.gamma,
                                                     patience=cfg.patience)
        elif cfg.name == "linear":  # up to the full rate over the warmup, then down to 0 at the end
            warmup = max(1, int(cfg.warmup * total_steps))
            self.scheduler = sched.SequentialLR(optimizer, [
                sched.LinearLR(optimizer, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1),
                sched.LinearLR(optimizer, start_factor=1.0, end_factor=0.0,
                               total_iters=max(1, total_steps - warmup)),
            ], milestones=[warmup])
        else:
            self.scheduler = None

    def after_batch(self) -> None:
        if self.name == "linear":
            self.scheduler.step()

    def after_scoring(self, epoch: int, scores: dict) -> None:
        if self.name == "step":
            self.scheduler.step()
        elif self.name == "plateau":
            self.scheduler.step(scores["score"])

    def state_dict(self) -> dict:
        return {} if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is None:
            return
        if self.name == "linear" and "_schedulers" not in state:  # a last.pt from before SequentialLR
            if not 0 <= int(state.get("last_epoch", 0)) <= self.total_steps:  # replayed step by step
                raise ValueError(f"scheduler step {state.get('last_epoch')} beyond the run's {self.total_steps}")
            with warnings.catch_warnings():  # "step() before optimizer.step()": on purpose here
                warnings.simplefilter("ignore", UserWarning)
                for _ in range(int(state.get("last_epoch", 0))):
                    self.scheduler.step()  # the same factors again
            return
        self.scheduler.load_state_dict(state)


class WeightedLoss(nn.Module):
    """Cross-entropy with class weights and label smoothing, averaged with per-tweet weights
    (data.train_weights): sum(w_i * loss_i) / sum(w_i * class_weight[y_i]). With every tweet
    weight 1 this is exactly torch's own mean reduction.

    ``labels`` may also be probability rows [B, classes] (train.distill's soft targets): then
    loss_i = -sum_c class_weight[c] p_ic log q_ic, with the scores divided by ``temperature``
    and the loss multiplied by its square (Hinton et al. 2015: gradients keep their size), and
    class_weight[y_i] in the norm becomes the row's expected class weight, sum_c class_weight[c] p_ic.
    A hierarchical head's scores are log-probabilities: the same softmax leaves them as they are."""

    def __init__(self, class_weight: torch.Tensor | None, label_smoothing: float, temperature: float = 1.0):
        super().__init__()
        self.ce = nn.CrossEntropyLoss(weight=class_weight, label_smoothing=label_smoothing,
                                      reduction="none")
        self.temperature = temperature

    def forward(self, logits: torch.Tensor, labels: torch.Tensor,
                weights: torch.Tensor | None = None) -> torch.Tensor:
        soft = labels.is_floating_point()
        t = self.temperature if soft else 1.0
        losses = self.ce(logits / t, labels) * (t * t) if t != 1 else self.ce(logits, labels)
        w = torch.ones_like(losses) if weights is None else weights
        if self.ce.weight is None:
            norm = w
        else:
            norm = w * (labels @ self.ce.weight if soft else self.ce.weight[labels])
        return (losses * w).sum() / norm.sum()


class MultiLabelLoss(nn.Module):
    """Binary cross-entropy of each class's sigmoid (model.head: multilabel), its positives
    weighted by ``pos_weight``, averaged over classes and then with the per-tweet weights.
    Targets may be soft (train.distill: an ensemble's probabilities); ``temperature`` then
    divides the logits and multiplies the loss by its square, as for the softmax."""

    def __init__(self, pos_weight: torch.Tensor | None, temperature: float = 1.0):
        super().__init__()
        self.bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none")
        self.temperature = temperature

    def forward(self, logits: torch.Tensor, labels: torch.Tensor,
                weights: torch.Tensor | None = None) -> torch.Tensor:
        t = self.temperature
        losses = (self.bce(logits / t, labels) * (t * t) if t != 1 else self.bce(logits, labels)).mean(dim=1)
        w = torch.ones_like(losses) if weights is None else weights
        return (losses * w).sum() / w.sum()


def build_loss(cfg: TrainConfig, labels: list, classes: LabelSet) -> nn.Module:
    """Cross-entropy with optional class weights ("balanced": inverse frequency) and smoothing;
    a multi-label run's binary cross-entropy with optional positive weights per class."""
    weights = None
    n = len(classes)
    temperature = cfg.distill.temperature if cfg.distill.teacher else 1.0  # soft targets' (train.distill)
    if classes.multilabel:
        return MultiLabelLoss(_positive_weights(cfg, labels, classes), temperature)
    if cfg.class_weights == "balanced":
        counts = np.bincount(labels, minlength=n).astype(np.float64)
        weights = len(labels) / (n * np.maximum(counts, 1))
    elif isinstance(cfg.class_weights, list):
        if len(cfg.class_weights) != n:
            raise SentinetError(f"train.class_weights: {len(cfg.class_weights)} weights for the "
                                f"{n} classes {list(classes.values)} (one per class, in that order)")
        weights = np.asarray(cfg.class_weights, dtype=np.float64)
    weight = None if weights is None else torch.tensor(weights, dtype=torch.float32)
    return WeightedLoss(weight, cfg.label_smoothing, temperature)


def _positive_weights(cfg: TrainConfig, targets: list[tuple[float, ...]], classes: LabelSet) -> torch.Tensor | None:
    """Multi-label: each class's positives weighed by the given number, or ("balanced") by its
    negatives / positives in training, as BCEWithLogitsLoss's pos_weight."""
    if cfg.class_weights == "none":
        return None
    if isinstance(cfg.class_weights, list):
        if len(cfg.class_weights) != len(classes):
            raise SentinetError(f"train.class_weights: {len(cfg.class_weights)} weights for the "
                                f"{len(classes)} classes {list(classes.values)} (one per class, in that order)")
        return torch.tensor(cfg.class_weights, dtype=torch.float32)
    hot = np.asarray(targets, dtype=np.float64).reshape(-1, len(classes))
    positives = hot.sum(axis=0)
    return torch.tensor((len(hot) - positives) / np.maximum(positives, 1), dtype=torch.float32)


class Averager(Callback):
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

    def after_batch(self) -> None:
        if self.kind == "ema":
            self.average.update_parameters(self.live)

    def after_train_epoch(self, epoch: int) -> None:
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


def unfreeze_vectors(model: nn.Module, config: Config) -> torch.optim.Optimizer:
    """Late unfreezing: the pretrained table trains from now on with its own optimizer and
    learning rate (unscheduled), leaving the main optimizer and its schedule untouched."""
    weight = model.embedder.pretrained.weight
    weight.requires_grad_(True)
    return build_optimizer([weight], config.train.optimizer, lr=config.vectors.unfreeze_lr)
