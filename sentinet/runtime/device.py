"""Which torch device to run on: kept apart from training so eval and predict import little."""

from __future__ import annotations

import torch

from sentinet.errors import SentinetError


def resolve_device(spec: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; an explicit CUDA device must exist."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise SentinetError(f"train.device: {spec!r} is not a device (auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SentinetError(f"train.device: {spec!r} requested but CUDA is not available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SentinetError(f"train.device: {spec!r}: only {torch.cuda.device_count()} GPU(s)")
    elif device.type != "cpu":
        raise SentinetError(f"train.device: {spec!r} is not supported (auto, cpu, cuda, cuda:N)")
    return device
