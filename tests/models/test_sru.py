"""SRU: the fast recurrences against the plain reference, forward and backward."""

import pytest
import torch

from sentinet.models.sru import triton
from sentinet.models.sru.encoder import (
    SRUEncoder, SRUOptions, _CPURecurrence, reverse_within_lengths, sru_recurrence,
    sru_recurrence_reference,
)


def inputs(T=5, B=3, N=4, dtype=torch.float64, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype).to(device).requires_grad_()
    return make(T, B, N), make(T, B, N), make(N), make(B, N)


def grads(fn, args):
    out = fn(*args)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=out.device).view_as(out)
    return out, torch.autograd.grad((out * weights).sum(), args)


def test_cpu_recurrence_matches_reference():
    args = inputs()
    out, g = grads(_CPURecurrence.apply, args)
    ref, g_ref = grads(sru_recurrence_reference, args)
    torch.testing.assert_close(out, ref)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


def test_cpu_recurrence_gradcheck():
    assert torch.autograd.gradcheck(_CPURecurrence.apply, inputs(T=4, B=2, N=3))


def test_reference_definition_by_hand():
    xt = torch.tensor([[[2.0]], [[4.0]]])
    uf = torch.zeros(2, 1, 1)
    vf = torch.zeros(1)
    c = sru_recurrence_reference(xt, uf, vf, torch.zeros(1, 1))
    # f = 0.5 every step: c1 = 0.5*0 + 0.5*2 = 1, c2 = 0.5*1 + 0.5*4 = 2.5
    assert c.flatten().tolist() == [1.0, 2.5]


def test_reverse_within_lengths():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    lengths = torch.tensor([3, 2])
    assert reverse_within_lengths(x, lengths).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_within_lengths(reverse_within_lengths(x, lengths), lengths), x)


def test_backward_direction_reads_from_the_last_real_token():
    """Unidirectional SRU on a reversed tweet = the backward half of a bidirectional one."""
    torch.manual_seed(0)
    enc = SRUEncoder(SRUOptions(name="sru", hidden_size=4, num_layers=1, pooling="last"), 4)
    layer = enc.layers[0]
    x = torch.randn(1, 5, 4)
    lengths = torch.tensor([3])
    h = layer(x, lengths)  # [1, 5, 8]
    uni = SRUEncoder(SRUOptions(name="sru", hidden_size=4, num_layers=1, bidirectional=False), 4).layers[0]
    with torch.no_grad():  # copy the backward direction's weights into a one-direction layer
        w = layer.weight.weight.view(2, layer.k * 4, 4)[1]
        uni.weight.weight.copy_(w)
        uni.v.copy_(layer.v[:, 4:])
        uni.b.copy_(layer.b[:, 4:])
    reversed_tweet = x[:, :3].flip(1)
    expected = uni(reversed_tweet, lengths).flip(1)  # back to the original order
    torch.testing.assert_close(h[:, :3, 4:], expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.skipif(not triton.available(), reason="needs Triton")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_triton_recurrence_matches_reference(dtype):
    args = inputs(T=7, B=5, N=300, dtype=dtype, device="cuda")
    out, g = grads(triton.recurrence, args)
    ref, g_ref = grads(sru_recurrence_reference, args)
    tol = {} if dtype == torch.float64 else {"atol": 1e-4, "rtol": 1e-4}
    torch.testing.assert_close(out, ref, **tol)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, **tol)
    assert sru_recurrence(*args).is_cuda


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.skipif(not triton.available(), reason="needs Triton")
def test_triton_recurrence_gradcheck():
    assert torch.autograd.gradcheck(triton.recurrence, inputs(T=4, B=2, N=3, device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.skipif(not triton.available(), reason="needs Triton")
def test_sru_encoder_on_cuda_matches_reference():
    """The whole encoder (strided projections, both directions, 2 layers) through Triton."""
    torch.manual_seed(0)
    enc = SRUEncoder(SRUOptions(name="sru", hidden_size=16, num_layers=2), 12).cuda().double()
    x = torch.randn(5, 9, 12, dtype=torch.float64, device="cuda", requires_grad=True)
    lengths = torch.tensor([9, 3, 1, 7, 5])
    fast = enc(x, lengths)
    fast_grads = torch.autograd.grad(fast.sum(), [x, *enc.parameters()])
    for layer in enc.layers:
        layer.recurrence = sru_recurrence_reference
    ref = enc(x, lengths)
    ref_grads = torch.autograd.grad(ref.sum(), [x, *enc.parameters()])
    torch.testing.assert_close(fast, ref)
    for a, b in zip(fast_grads, ref_grads):
        torch.testing.assert_close(a, b)


# --------------------------------------------------------------------------------------
# The fused CPU kernel (sru_cpu.cpp), where it is built (make install builds it)

from sentinet.models import kernel  # noqa: E402

needs_kernel = pytest.mark.skipif(not kernel.available(),
                                  reason="fused SRU kernel not built (python -m sentinet.models.build_kernel)")


def encoder_pair(input_dim: int, hidden: int, layers: int, bidirectional: bool, pooling: str, seed: int = 0):
    """The same SRU twice: the fused kernel and the plain-torch path."""
    torch.manual_seed(seed)
    options = SRUOptions(name="sru", hidden_size=hidden, num_layers=layers, bidirectional=bidirectional,
                         pooling=pooling, dropout=0.0)
    fused = SRUEncoder(options, input_dim).double()
    plain = SRUEncoder(options, input_dim).double()
    plain.load_state_dict(fused.state_dict())
    for layer in plain.layers:
        layer.fused = False
    return fused, plain


@needs_kernel
@pytest.mark.parametrize("input_dim, hidden, layers, bidirectional, pooling", [
    (6, 4, 2, True, "max"),     # K = 4 (projected highway) in both layers
    (4, 4, 1, False, "last"),   # K = 3: the input itself is the highway
    (4, 4, 2, True, "mean"),    # K = 3 then K = 4
    (4, 4, 1, True, "last"),    # K = 3 with two directions sharing one input
])
def test_fused_kernel_matches_the_torch_path(input_dim, hidden, layers, bidirectional, pooling):
    fused, plain = encoder_pair(input_dim, hidden, layers, bidirectional, pooling)
    x = torch.randn(4, 6, input_dim, dtype=torch.float64)
    lengths = torch.tensor([6, 4, 1, 3])
    outs, grads_ = [], []
    for enc in (fused, plain):
        xi = x.clone().requires_grad_()
        pooled, states = enc(xi, lengths, states=True)
        weights = torch.linspace(-1, 1, pooled.numel(), dtype=pooled.dtype).view_as(pooled)
        (pooled * weights).sum().backward()
        real = torch.arange(6) < lengths.unsqueeze(1)
        outs.append((pooled, states[real]))
        grads_.append([xi.grad] + [p.grad for p in enc.parameters()])
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)
    for a, b in zip(*grads_):
        torch.testing.assert_close(a, b)


@needs_kernel
@pytest.mark.parametrize("k", [3, 4])
def test_fused_kernel_gradcheck(k):
    g = torch.Generator().manual_seed(k)
    T, B, D, H = 4, 3, 2, 3
    make = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()
    U, v, b = make(T, B, D, k, H), make(2, D * H), make(2, D * H)
    x = make(T, B, H) if k == 3 else torch.empty(0, dtype=torch.float64)
    lengths = torch.tensor([4, 2, 1])
    assert torch.autograd.gradcheck(kernel.FusedSRU.apply, (U, x, v, b, lengths))


@needs_kernel
def test_fused_kernel_leaves_padding_at_zero_and_ignores_it():
    fused, _ = encoder_pair(5, 4, 1, True, "max")
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    lengths = torch.tensor([3, 2])
    wide = torch.cat([x, torch.randn(2, 4, 5, dtype=torch.float64)], 1)  # junk after the real steps
    pooled, states = fused(x, lengths, states=True)
    pooled_wide, states_wide = fused(wide, lengths, states=True)
    torch.testing.assert_close(pooled, pooled_wide)
    torch.testing.assert_close(states, states_wide[:, :3])
    assert states_wide[:, 3:].abs().max() == 0 and states[1, 2].abs().max() == 0


def test_kernel_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("SENTINET_SRU_KERNEL", "0")
    kernel.kernel.cache_clear()
    try:
        assert not kernel.available()
    finally:
        monkeypatch.delenv("SENTINET_SRU_KERNEL")
        kernel.kernel.cache_clear()


def test_kernel_name_follows_source_and_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINET_CACHE", str(tmp_path))
    kernel.kernel.cache_clear()
    try:
        assert kernel.build_dir().parent == tmp_path
        assert not kernel.available()  # nothing built in an empty cache: the torch path runs
        enc = SRUEncoder(SRUOptions(name="sru", hidden_size=3, num_layers=1), 3)
        assert enc(torch.randn(2, 4, 3), torch.tensor([4, 2])).shape == (2, 6)
    finally:
        kernel.kernel.cache_clear()
