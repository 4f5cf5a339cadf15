"""Pooling over the real (unpadded) time steps of a batch of sequences."""

from __future__ import annotations

import torch
from torch import Tensor


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Bool mask [B, T]: True at real positions, False at padding."""
    steps = torch.arange(max_len, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def masked_max(states: Tensor, lengths: Tensor) -> Tensor:
    """Max over time [B, T, H] → [B, H]; padded steps can never win the max."""
    mask = length_mask(lengths.to(states.device), states.size(1)).unsqueeze(-1)
    return states.masked_fill(~mask, float("-inf")).amax(dim=1)


def masked_mean(states: Tensor, lengths: Tensor) -> Tensor:
    """Mean over the real steps only [B, T, H] → [B, H]."""
    lengths = lengths.to(states.device)
    mask = length_mask(lengths, states.size(1)).unsqueeze(-1)
    return (states * mask).sum(dim=1) / lengths.clamp(min=1).unsqueeze(-1).to(states.dtype)
