"""The few elementwise pieces the light encoders share, in float32 numpy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """numpy's BLAS held to ``count`` threads while a batch runs. Its default (every core) turns
    the loop's small per-step products into thread hand-offs: on a busy 2-core machine, 10 times
    slower than one thread. threadpoolctl (scikit-learn's dependency) does it; without it the
    BLAS keeps its own setting (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(count, user_api="blas"):
        yield


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """σ(x) in place: 1 / (1 + e^-x). A large negative x overflows e^-x to inf, giving 0 as torch
    does: callers run it under ``np.errstate(over="ignore")`` (once per batch, not per step)."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    np.reciprocal(x, out=x)
    return x


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row's max as torch's is."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def reversed_index(lengths: np.ndarray, steps: int) -> np.ndarray:
    """[B, T] positions that read each row backwards within its length (padding stays put):
    how a backward direction reads a text, and its own inverse."""
    t = np.arange(steps)
    index = lengths[:, None] - 1 - t
    return np.where(index >= 0, index, t)


def active_rows(lengths: np.ndarray, steps: int) -> list[int]:
    """For lengths sorted longest first: how many rows are still inside their text at each step
    (a prefix, so a step updates ``[:n]`` and never reads padding, as packing does)."""
    return (lengths[None, :] > np.arange(steps)[:, None]).sum(1).tolist()


class Pool:
    """Pooling over the real steps of every direction as the loop runs: ``max``, ``mean`` (summed
    here, divided in ``result``) or ``last`` (each row's final state)."""

    def __init__(self, kind: str, dirs: int, batch: int, hidden: int):
        self.kind = kind
        if kind == "max":
            self.value = np.full((dirs, batch, hidden), -np.inf, np.float32)
        else:
            self.value = np.zeros((dirs, batch, hidden), np.float32)

    def add(self, n: int, h: np.ndarray) -> None:
        """The step's states ``h`` [dirs, n, H] of the first ``n`` rows."""
        part = self.value[:, :n]
        if self.kind == "max":
            np.maximum(part, h, out=part)
        elif self.kind == "mean":
            part += h
        else:
            part[...] = h

    def result(self, lengths: np.ndarray) -> np.ndarray:
        """[B, dirs · H]: directions side by side, as torch's encoders concatenate them."""
        value = self.value
        if self.kind == "mean":
            value = value / np.maximum(lengths, 1).astype(np.float32)[None, :, None]
        return value.transpose(1, 0, 2).reshape(value.shape[1], -1)
