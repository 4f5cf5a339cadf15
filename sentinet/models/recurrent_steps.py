"""The recurrent encoders' time loop for inference from precomputed input projections
(sentinet.models.tables): GRU, LSTM and tanh-RNN cells as torch's ``nn.GRU``/``nn.LSTM``/
``nn.RNN`` define them, both directions in one batched product per step.

The batch is sorted longest first, so at step t the texts still running are a prefix
``[:active[t]]``: each step works on those rows only (what packing does), a finished text's
state stays as its last real step left it, and padding is never read. The backward direction
reads each text reversed within its own length, so it too starts at a real token.

Two implementations of one loop: fused C++ (recurrent_cpu.cpp, built at install time with
SRU's kernel) and torch ops (no compiler needed); tests hold both to ``nn.GRU`` & co.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sentinet.models import kernel

# A cell step: (input projections [dirs, n, G·H], h [dirs, n, H], c (LSTM) or None,
# W_hh^T [dirs, H, G·H], b_hh [dirs, 1, G·H]) → nothing: h (and c) are updated in place.
Step = Callable[[Tensor, Tensor, Tensor | None, Tensor, Tensor], None]


def gru_step(gi: Tensor, h: Tensor, c: Tensor | None, w: Tensor, b: Tensor) -> None:
    """r, z = σ(gi + gh) over the first 2H; n = tanh(gi_n + r · gh_n); h' = n + z (h − n)."""
    gh = torch.baddbmm(b, h, w)
    hidden = h.size(-1)
    rz = gh[..., : 2 * hidden].add_(gi[..., : 2 * hidden]).sigmoid_()
    n = gh[..., 2 * hidden:].mul_(rz[..., :hidden]).add_(gi[..., 2 * hidden:]).tanh_()
    torch.lerp(n, h, rz[..., hidden:], out=h)


def lstm_step(gi: Tensor, h: Tensor, c: Tensor | None, w: Tensor, b: Tensor) -> None:
    """Gates i, f, g, o (torch's order): c' = f c + i g; h' = o tanh(c')."""
    gates = torch.baddbmm(b, h, w).add_(gi)
    hidden = h.size(-1)
    gates[..., : 2 * hidden].sigmoid_()
    gates[..., 3 * hidden:].sigmoid_()
    g = gates[..., 2 * hidden: 3 * hidden].tanh_()
    c.mul_(gates[..., hidden: 2 * hidden]).addcmul_(gates[..., :hidden], g)
    torch.mul(gates[..., 3 * hidden:], c.tanh(), out=h)


def rnn_step(gi: Tensor, h: Tensor, c: Tensor | None, w: Tensor, b: Tensor) -> None:
    """h' = tanh(gi + W_hh h + b_hh)."""
    torch.tanh(torch.baddbmm(b, h, w).add_(gi), out=h)


STEPS: dict[str, tuple[Step, int]] = {"gru": (gru_step, 3), "lstm": (lstm_step, 4), "rnn": (rnn_step, 1)}


def reversed_index(lengths: Tensor, steps: int) -> Tensor:
    """[B, T] positions that read each row backwards within its length (padding stays put)."""
    t = torch.arange(steps, device=lengths.device)
    index = lengths.unsqueeze(1) - 1 - t
    return torch.where(index >= 0, index, t)


def run_layer(gi: Tensor, lengths: Tensor, cell: str, w: Tensor, b: Tensor, keep_states: bool,
              pooling: str) -> tuple[Tensor, Tensor | None]:
    """One layer over time-major input projections ``gi`` [T, dirs, B, G·H] (the backward
    direction already reversed within lengths), rows sorted longest first; ``w`` is W_hh^T
    [dirs, H, G·H], ``b`` b_hh [dirs, 1, G·H].

    Returns (pooled [dirs, B, H] — max or sum over real steps, or the final state for
    ``last`` — and, with ``keep_states``, every step's state [T, dirs, B, H], zero past a
    row's end). The fused C++ loop (recurrent_cpu.cpp) runs it when it is built; else torch
    ops, step by step."""
    active = (lengths.unsqueeze(0) > torch.arange(gi.size(0), device=lengths.device).unsqueeze(1)).sum(1)
    if fused(gi):
        pooled, states = kernel.kernel().recurrent_forward(
            CELL_CODES[cell], gi, w.contiguous(), b.contiguous(), active.cpu(), POOL_CODES[pooling], keep_states)
        return pooled, states if keep_states else None
    return _torch_layer(gi, active.tolist(), STEPS[cell][0], w, b, cell == "lstm", keep_states, pooling)


CELL_CODES = {"gru": 0, "lstm": 1, "rnn": 2}
POOL_CODES = {"max": 0, "mean": 1, "last": 2}  # mean: summed there, divided by the caller


def fused(gi: Tensor) -> bool:
    """Whether the C++ loop takes this input: float32 on the CPU, the kernel built and on
    (``SENTINET_SRU_KERNEL=0`` turns all of sentinet's fused kernels off)."""
    return gi.device.type == "cpu" and gi.dtype == torch.float32 and kernel.available()


def _torch_layer(gi: Tensor, active: list[int], step: Step, w: Tensor, b: Tensor, lstm: bool,
                 keep_states: bool, pooling: str) -> tuple[Tensor, Tensor | None]:
    """run_layer in torch ops: each step updates the first ``active[t]`` rows in place."""
    steps, dirs, batch, _ = gi.shape
    hidden = w.size(1)
    h = gi.new_zeros(dirs, batch, hidden)
    c = gi.new_zeros(dirs, batch, hidden) if lstm else None
    pooled = gi.new_full((dirs, batch, hidden), float("-inf")) if pooling == "max" else None
    if pooling == "mean":
        pooled = gi.new_zeros(dirs, batch, hidden)
    states = gi.new_zeros(steps, dirs, batch, hidden) if keep_states else None
    for t, n in enumerate(active):
        new_h = h[:, :n]
        step(gi[t, :, :n], new_h, None if c is None else c[:, :n], w, b)
        if pooling == "max":
            torch.maximum(pooled[:, :n], new_h, out=pooled[:, :n])
        elif pooling == "mean":
            pooled[:, :n] += new_h
        if states is not None:
            states[t, :, :n] = new_h
    return (h if pooling == "last" else pooled), states
