"""Fused SRU recurrence on CUDA with Triton: one kernel launch for all time steps.

Each program owns a block of (batch × hidden) columns and walks the time axis keeping c in
registers, so the whole recurrence costs one launch forward and one backward instead of a
few small kernels per step. Imported only for CUDA tensors; ``available()`` is False when
Triton is not installed, and sentinet then uses the CPU autograd function instead.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

BLOCK = 256


@functools.cache
def available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _kernels():
    """Compile lazily: importing this module must work where Triton is absent."""
    import triton
    import triton.language as tl

    @triton.jit
    def forward_kernel(xt, uf, vf, c0, c_out, f_out, T, BN, N, BLOCK: tl.constexpr):
        cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        live = cols < BN
        v = tl.load(vf + cols % N, mask=live, other=0.0)
        c = tl.load(c0 + cols, mask=live, other=0.0)
        for t in range(T):
            at = t * BN + cols
            z = tl.load(uf + at, mask=live, other=0.0) + v * c
            f = 1.0 / (1.0 + tl.exp(-z))
            c = f * c + (1.0 - f) * tl.load(xt + at, mask=live, other=0.0)
            tl.store(c_out + at, c, mask=live)
            tl.store(f_out + at, f, mask=live)

    @triton.jit
    def backward_kernel(grad, xt, f_all, c_all, c0, vf, d_xt, d_uf, d_v, d_c0, T, BN, N,
                        BLOCK: tl.constexpr):
        cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        live = cols < BN
        v = tl.load(vf + cols % N, mask=live, other=0.0)
        first = tl.load(c0 + cols, mask=live, other=0.0)
        carry = first * 0.0
        dv = first * 0.0
        for i in range(T):
            t = T - 1 - i
            at = t * BN + cols
            g = tl.load(grad + at, mask=live, other=0.0) + carry
            f = tl.load(f_all + at, mask=live, other=0.0)
            prev = tl.load(c_all + at - BN, mask=live & (t > 0), other=0.0)
            prev = tl.where(t > 0, prev, first)
            da = g * (prev - tl.load(xt + at, mask=live, other=0.0)) * f * (1.0 - f)
            tl.store(d_xt + at, g * (1.0 - f), mask=live)
            tl.store(d_uf + at, da, mask=live)
            dv += da * prev
            carry = g * f + da * v
        tl.store(d_c0 + cols, carry, mask=live)
        tl.store(d_v + cols, dv, mask=live)

    return forward_kernel, backward_kernel


class _TritonRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xt: Tensor, uf: Tensor, vf: Tensor, c0: Tensor) -> Tensor:
        forward_kernel, _ = _kernels()
        T, B, N = xt.shape
        xt, uf, vf, c0 = (a.contiguous() for a in (xt, uf, vf, c0))
        c_all, f_all = torch.empty_like(xt), torch.empty_like(xt)
        grid = (triton_cdiv(B * N, BLOCK),)
        forward_kernel[grid](xt, uf, vf, c0, c_all, f_all, T, B * N, N, BLOCK=BLOCK)
        ctx.save_for_backward(xt, vf, c0, c_all, f_all)
        return c_all

    @staticmethod
    def backward(ctx, grad: Tensor):
        _, backward_kernel = _kernels()
        xt, vf, c0, c_all, f_all = ctx.saved_tensors
        T, B, N = xt.shape
        d_xt, d_uf = torch.empty_like(xt), torch.empty_like(xt)
        d_v, d_c0 = torch.empty_like(c0), torch.empty_like(c0)
        grid = (triton_cdiv(B * N, BLOCK),)
        backward_kernel[grid](grad.contiguous(), xt, f_all, c_all, c0, vf, d_xt, d_uf, d_v, d_c0,
                              T, B * N, N, BLOCK=BLOCK)
        return d_xt, d_uf, d_v.sum(0), d_c0


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def recurrence(xt: Tensor, uf: Tensor, vf: Tensor, c0: Tensor) -> Tensor:
    return _TritonRecurrence.apply(xt, uf, vf, c0)
