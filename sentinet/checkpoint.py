"""``last.pt``: everything an interrupted run needs to go on exactly where it stopped.

Written atomically after every epoch: the live weights (minus the frozen vectors, which
model.pt holds), the optimizers, the learning-rate
schedule, the weight average, early-stopping state, the per-epoch metrics, and the random
number generators (torch's, and the batch sampler's own), so that a run resumed after epoch k
ends with the same numbers as one that never stopped. Loaded with ``weights_only=True``: like
``model.pt``, it is data, never code.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sentinet.errors import SentinetError
from sentinet.fileio import atomic_torch_save, load_torch

LAST = "last.pt"
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
    atomic_torch_save(state, run_dir / LAST)


def load(run_dir: Path) -> dict:
    path = run_dir / LAST
    if not path.is_file():
        raise SentinetError(f"{run_dir}: no {LAST} to resume from (the run stopped before its first "
                            "epoch ended, or was written by an older sentinet)")
    state = load_torch(path, "checkpoint")
    if not isinstance(state, dict) or "epoch" not in state:
        raise SentinetError(f"{path}: not a sentinet checkpoint")
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
