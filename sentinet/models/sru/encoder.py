"""SRU: Simple Recurrent Units (Lei et al., 2018), bidirectional and multi-layer.

Per layer and direction, with one GEMM for every time step and projection::

    x̃_t = W x_t
    f_t = σ(W_f x_t + v_f ⊙ c_{t-1} + b_f)
    r_t = σ(W_r x_t + v_r ⊙ c_{t-1} + b_r)
    c_t = f_t ⊙ c_{t-1} + (1 − f_t) ⊙ x̃_t
    h_t = r_t ⊙ c_t + (1 − r_t) ⊙ x_t        (x projected when its size differs)

Only the c recurrence is sequential, and it is elementwise. On the CPU, when the C++ kernel is
built (``python -m sentinet.models.build_kernel``; ``make install`` does), everything after the
GEMM is one fused call, forward and backward (sru_cpu.cpp). Otherwise ``sru_recurrence`` runs
the recurrence with a hand-written backward (few ops per step on the CPU, a fused Triton
kernel on CUDA); r and h are then computed for all steps at once. The backward direction runs the same recurrence
over each tweet reversed within its own length, so it starts at the tweet's last real token
and padding always comes after the real steps: it can never reach a real state.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from sentinet.models import kernel
from sentinet.models.pooling import masked_max, masked_mean
from sentinet.config.encoders import SRUOptions


# --------------------------------------------------------------------------------------
# The elementwise recurrence c_t = f_t c_{t-1} + (1 - f_t) x̃_t,  f_t = σ(u_t + v c_{t-1})
# All tensors are time-major: xt, uf [T, B, N]; vf [N]; c0 [B, N] → c [T, B, N].


def sru_recurrence_reference(xt: Tensor, uf: Tensor, vf: Tensor, c0: Tensor) -> Tensor:
    """Plain autograd, one step at a time: the definition the fast paths are tested against."""
    states, c = [], c0
    for t in range(xt.size(0)):
        f = torch.sigmoid(uf[t] + vf * c)
        c = f * c + (1 - f) * xt[t]
        states.append(c)
    return torch.stack(states)


class _CPURecurrence(torch.autograd.Function):
    """Forward: 3 in-place ops per step. Backward: the carried gradient obeys the linear
    recurrence g_t = grad_t + k_{t+1} g_{t+1}, one op per step; the rest is vectorised."""

    @staticmethod
    def forward(ctx, xt: Tensor, uf: Tensor, vf: Tensor, c0: Tensor) -> Tensor:
        c_all, f_all = torch.empty_like(xt), torch.empty_like(xt)
        c = c0
        for t in range(xt.size(0)):
            torch.addcmul(uf[t], vf, c, out=f_all[t]).sigmoid_()
            c = torch.lerp(xt[t], c, f_all[t], out=c_all[t])  # f c + (1 - f) x̃
        ctx.save_for_backward(xt, vf, c0, c_all, f_all)
        return c_all

    @staticmethod
    def backward(ctx, grad: Tensor):
        xt, vf, c0, c_all, f = ctx.saved_tensors
        c_prev = torch.cat([c0.unsqueeze(0), c_all[:-1]])
        da_dg = (c_prev - xt) * f * (1 - f)  # d c_t / d (pre-sigmoid f_t)
        k = f + vf * da_dg  # d c_t / d c_{t-1}
        g = torch.empty_like(grad)
        g[-1] = grad[-1]
        for t in range(grad.size(0) - 2, -1, -1):
            torch.addcmul(grad[t], g[t + 1], k[t + 1], out=g[t])
        da = g * da_dg
        return g * (1 - f), da, (da * c_prev).sum((0, 1)), g[0] * k[0]


@functools.cache
def _scripted_reference():
    return torch.jit.script(sru_recurrence_reference)


def sru_recurrence(xt: Tensor, uf: Tensor, vf: Tensor, c0: Tensor) -> Tensor:
    """The fastest available implementation: Triton on CUDA when installed, else the CPU one.
    Under tracing (ONNX export) the scripted reference, whose time loop becomes an ONNX Loop
    instead of this batch's T steps unrolled."""
    if torch.jit.is_tracing():
        return _scripted_reference()(xt, uf, vf, c0)
    if xt.is_cuda:
        from sentinet.models.sru import triton

        if triton.available():
            return triton.recurrence(xt, uf, vf, c0)
    return _CPURecurrence.apply(xt, uf, vf, c0)


# --------------------------------------------------------------------------------------
# Layers


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence [B, T, ...] within its own length; padding stays at the end.
    The operation is its own inverse."""
    steps = torch.arange(x.size(1), device=x.device)
    index = lengths.to(x.device).unsqueeze(1) - 1 - steps
    index = torch.where(index >= 0, index, steps)
    return x.gather(1, index.view(*index.shape, *[1] * (x.dim() - 2)).expand_as(x))


class SRULayer(nn.Module):
    def __init__(self, input_dim: int, hidden: int, bidirectional: bool):
        super().__init__()
        self.hidden = hidden
        self.dirs = 2 if bidirectional else 1
        self.k = 3 if input_dim == hidden else 4  # 4th projection: highway for other sizes
        self.weight = nn.Linear(input_dim, self.dirs * self.k * hidden, bias=False)
        self.v = nn.Parameter(torch.empty(2, self.dirs * hidden).uniform_(-0.5, 0.5))
        self.b = nn.Parameter(torch.zeros(2, self.dirs * hidden))
        nn.init.xavier_uniform_(self.weight.weight)
        self.recurrence = sru_recurrence  # benchmarks swap in sru_recurrence_reference
        self.fused = True  # the C++ kernel on the CPU when it is built (benchmarks turn it off)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """[B, T, D] → [B, T, dirs * H], both directions in the original time order."""
        B, T, _ = x.shape
        if self._use_fused(x):
            x_tm = x.transpose(0, 1)
            u = (x_tm @ self.weight.weight.T).contiguous().view(T, B, self.dirs, self.k, self.hidden)
            return self._fused(u, x_tm.contiguous() if self.k == 3 else x.new_empty(0), lengths)
        H, dirs, k = self.hidden, self.dirs, self.k
        # Time-major, and the backward direction reads each tweet reversed within its length.
        # Reversing the input (D wide) is cheaper than reversing the projections (k·H wide).
        inputs = [x] if dirs == 1 else [x, reverse_within_lengths(x, lengths)]
        inputs = [inp.transpose(0, 1) for inp in inputs]
        weight = self.weight.weight.view(dirs, k * H, -1)
        # u[t, b, j, d] is projection j of direction d: each u[:, :, j] is a [T, B, dirs·H] view
        u = torch.stack([(inp @ weight[d].T).view(T, B, k, H) for d, inp in enumerate(inputs)], 3)
        highway = torch.stack(inputs, 2).reshape(T, B, dirs * H) if k == 3 else None
        return self._recur(u, highway, lengths)

    def input_table(self, vectors: Tensor) -> Tensor:
        """[V, D] → [V, K]: the projections x @ weight.T (dirs·k·H columns, by direction, then
        projection, then unit), then the word itself when k == 3 (the highway)."""
        projections = vectors @ self.weight.weight.T
        return torch.cat([projections, vectors], 1) if self.k == 3 else projections

    def forward_table(self, table: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        """forward()'s [B, T, dirs·H] from ``input_table``'s rows for ``ids`` [B, T], gathered
        straight into the time-major layout each path wants: no GEMM, no transposed copy."""
        B, T = ids.shape
        H, dirs, k = self.hidden, self.dirs, self.k
        projections, words = table[:, : dirs * k * H], table[:, dirs * k * H :]
        if self._use_fused(table):
            ids_tm = ids.T.contiguous()  # the gather follows the index's layout
            u = projections[ids_tm].view(T, B, dirs, k, H)
            return self._fused(u, words[ids_tm] if k == 3 else table.new_empty(0), lengths)
        # The plain path reads the backward direction reversed within each tweet's length:
        # gathering its rows in that order is the same as reversing the input first.
        per_direction = [ids] if dirs == 1 else [ids, reverse_within_lengths(ids, lengths)]
        per_direction = [i.T.contiguous() for i in per_direction]
        u = torch.stack([projections[:, d * k * H : (d + 1) * k * H][i].view(T, B, k, H)
                         for d, i in enumerate(per_direction)], 3)
        highway = torch.stack([words[i] for i in per_direction], 2).reshape(T, B, dirs * H) if k == 3 else None
        return self._recur(u, highway, lengths)

    def _use_fused(self, x: Tensor) -> bool:
        return (self.fused and self.recurrence is sru_recurrence and not x.is_cuda
                and x.dtype in (torch.float32, torch.float64)
                and not torch.jit.is_tracing() and kernel.available())

    def _recur(self, u: Tensor, highway: Tensor | None, lengths: Tensor) -> Tensor:
        """The plain-torch recurrence from the projections u [T, B, k, dirs, H], time-major
        with the backward direction already reversed within lengths; ``highway`` [T, B, dirs·H]
        (the input, likewise reversed) when k == 3."""
        T, B, _, dirs, H = u.shape
        x_tilde, u_f, u_r, *rest = (part.reshape(T, B, dirs * H) for part in u.unbind(2))
        x_highway = rest[0] if rest else highway
        v_f, v_r = self.v.unbind(0)
        c0 = u.new_zeros(B, dirs * H)
        c = self.recurrence(x_tilde, u_f + self.b[0], v_f, c0)
        c_prev = torch.cat([c0.unsqueeze(0), c[:-1]])
        r = torch.sigmoid(torch.addcmul(u_r + self.b[1], v_r, c_prev))
        h = torch.lerp(x_highway, c, r).view(T, B, dirs, H).transpose(0, 1)  # r c + (1 - r) x
        if dirs == 2:
            h = torch.stack([h[:, :, 0], reverse_within_lengths(h[:, :, 1], lengths)], 2)
        return h.reshape(B, T, dirs * H)

    def _fused(self, u: Tensor, highway: Tensor, lengths: Tensor) -> Tensor:
        """The layer's elementwise part in one fused kernel call (sru_cpu.cpp), from the
        projections u [T, B, dirs, k, H] and the highway [T, B, H] (empty when k == 4): the
        backward direction walks each tweet from its last real token, so nothing is reversed;
        padding steps come out 0."""
        h = kernel.FusedSRU.apply(u, highway, self.v, self.b, lengths.to("cpu", torch.long).contiguous())
        return h.transpose(0, 1)


class SRUEncoder(nn.Module):
    """Stacked SRU layers with dropout between them, pooled over the real steps."""

    def __init__(self, options: SRUOptions, input_dim: int):
        super().__init__()
        dirs = 2 if options.bidirectional else 1
        dims = [input_dim] + [options.hidden_size * dirs] * options.num_layers
        self.layers = nn.ModuleList(SRULayer(d, options.hidden_size, options.bidirectional) for d in dims[:-1])
        self.dropout = nn.Dropout(options.dropout)
        self.dirs, self.hidden = dirs, options.hidden_size
        self.pooling = options.pooling
        self.output_dim = options.hidden_size * dirs

    token_states = True  # forward(..., states=True) also returns the last layer's per-token states

    @property
    def directions(self) -> int:
        return self.dirs

    def forward(self, x: Tensor, lengths: Tensor, states: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        for i, layer in enumerate(self.layers):
            x = layer(self.dropout(x) if i else x, lengths)
        return (self._pool(x, lengths), x) if states else self._pool(x, lengths)

    def input_table(self, vectors: Tensor) -> Tensor:
        """[V, D] word vectors → [V, K]: the first layer's projections of each word (and the
        word itself when k == 3, the highway), which depend on that word alone, so at
        inference they are computed once per word instead of once per occurrence."""
        return self.layers[0].input_table(vectors)

    def forward_table(self, table: Tensor, ids: Tensor, lengths: Tensor) -> Tensor:
        """forward()'s [B, output_dim] from ``input_table``'s rows for ``ids`` [B, T] (eval
        mode; equal within float rounding): the first layer from the table, the rest as usual."""
        x = self.layers[0].forward_table(table, ids, lengths)
        for layer in self.layers[1:]:
            x = layer(self.dropout(x), lengths)
        return self._pool(x, lengths)

    def _pool(self, h: Tensor, lengths: Tensor) -> Tensor:
        """``last``: the forward state at the last real token, the backward one at the first."""
        if self.pooling == "max":
            return masked_max(h, lengths)
        if self.pooling == "mean":
            return masked_mean(h, lengths)
        last = (lengths.to(h.device) - 1).view(-1, 1, 1).expand(-1, 1, h.size(2))
        forward_last = h.gather(1, last).squeeze(1)[:, : self.hidden]
        return torch.cat([forward_last, h[:, 0, self.hidden :]], 1) if self.dirs == 2 else forward_last
