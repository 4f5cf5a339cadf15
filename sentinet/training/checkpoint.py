"""``last.pt``: everything an interrupted run needs to go on exactly where it stopped.

Written atomically after every epoch: the live weights (minus the frozen vectors, which
model.pt holds), the optimizers, the learning-rate
schedule, the weight average, early-stopping state, the per-epoch metrics, the random
number generators (torch's, and the batch sampler's own), and the best weights with their
record, so that a run resumed after epoch k ends with the same numbers as one that never
stopped. Loaded with ``weights_only=True``: like ``model.pt``, it is data, never code.

An epoch saves model.pt (when it is the best so far), then last.pt, then metrics.json: last.pt
is the commit point. A kill between the first two leaves model.pt an epoch ahead; resuming
puts back the best weights last.pt knows (see ``bookkeeping.restore_best``). The saves are
made with Ctrl-C and SIGTERM held (sentinet.runtime.signals.deferred_interrupts).
"""

from __future__ import annotations

from pathlib import Path

import torch

from sentinet.runs import rundir
from sentinet.errors import SentinetError
from sentinet.fileio import atomic_torch_save, load_torch

FROZEN = "embedder.pretrained.weight"  # the frozen vectors: model.pt has them, last.pt need not


def without_frozen(state: dict, frozen: bool) -> dict:
    """A state_dict minus the frozen pretrained table (often most of the model's bytes: they
    never change, and model.pt already holds them), so the per-epoch save stays small."""
    if not frozen:
        return state
    return {k: v for k, v in state.items() if not k.endswith(FROZEN)}


def with_frozen(state: dict, table: torch.Tensor) -> dict:
    """Put the frozen table back under every key that held it (model and its average)."""
    prefix = "module." if any(k.startswith("module.") for k in state) else ""  # an AveragedModel's
    if not state or prefix + FROZEN in state:
        return state
    return {**state, prefix + FROZEN: table}


def save(run_dir: Path, state: dict) -> None:
    state = {**state, "rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    atomic_torch_save(state, run_dir / rundir.LAST)


# What resume reads from last.pt, and the type each must have (checked before any is used).
REQUIRED = {"model": dict, "averaged": dict, "optimizers": list, "scheduler": dict,
            "sampler": torch.Tensor, "rng": torch.Tensor, "best_epoch": int, "best": dict,
            "epochs": list, "seconds": (int, float)}


def load(run_dir: Path, epochs: int) -> dict:
    """last.pt, checked against the run's ``train.epochs``: a damaged or hand-edited one is
    one line naming it, never a KeyError halfway through putting the run back."""
    path = run_dir / rundir.LAST
    if not path.is_file():
        raise SentinetError(f"{run_dir}: no {rundir.LAST} to resume from (the run stopped before its first "
                            "epoch ended, or was written by an older sentinet)")
    state = load_torch(path, "checkpoint")
    if not isinstance(state, dict) or "epoch" not in state:
        raise SentinetError(f"{path}: not a sentinet checkpoint")
    if why := _damage(state, epochs):
        raise damaged(path, why)
    return state


def damaged(path: Path, why: object) -> SentinetError:
    """The one line for a last.pt that cannot be resumed: deleting it starts the run over."""
    return SentinetError(f"{path}: damaged checkpoint ({str(why)[:80]}); delete it to start the run over")


def _damage(state: dict, epochs: int) -> str | None:
    """What is wrong with a checkpoint's fields, or None."""
    epoch = state["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= epochs:
        return f"epoch {str(epoch)[:40]!r} is not one of the run's epochs 1..{epochs}"
    for key, kind in REQUIRED.items():
        if key not in state:
            return f"no {key!r}"
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            return f"{key!r} is a {type(state[key]).__name__}"
    if len(state["epochs"]) != epoch:
        return f"{len(state['epochs'])} epoch records for epoch {epoch}"
    if not 0 <= state["best_epoch"] <= epoch:
        return f"best_epoch {state['best_epoch']} after epoch {epoch}"
    if state.get("best_model") is not None and not isinstance(state["best_model"], dict):
        return f"'best_model' is a {type(state['best_model']).__name__}"
    return None


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
