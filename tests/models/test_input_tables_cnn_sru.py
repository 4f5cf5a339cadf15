"""Frozen-input tables of the CNN and SRU encoders: forward_table(input_table(vectors), ids)
gives forward(vectors[ids]) in eval mode.

The tolerance is 1e-5 (float32, values of order 1): the table path computes the same dot
products in a different GEMM (all V words at once, or all columns at once, instead of the
batch's tokens per convolution or direction), so blocking and summation order differ and
results agree only to rounding, a few ulps times the reduction length.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from sentinet.config.encoders import CNNOptions, SRUOptions
from sentinet.models.cnn import CNNEncoder
from sentinet.models import kernel
from sentinet.models.sru.encoder import SRUEncoder

PAD_ID = 0
VOCAB = 30
ATOL = 1e-5


def word_vectors(dim: int, seed: int = 0) -> Tensor:
    """[VOCAB, dim] random vectors, row PAD the zero vector (as the embedder's)."""
    vectors = torch.randn(VOCAB, dim, generator=torch.Generator().manual_seed(seed))
    vectors[PAD_ID] = 0
    return vectors


def padded_ids(lengths: list[int], seed: int = 1) -> tuple[Tensor, Tensor]:
    """Random non-PAD ids [B, max(lengths)], PAD after each tweet's end."""
    g = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    ids = torch.randint(1, VOCAB, (len(lengths), max(lengths)), generator=g)
    real = torch.arange(max(lengths)) < lengths_t.unsqueeze(1)
    return ids.masked_fill(~real, PAD_ID), lengths_t


def both_paths(encoder: torch.nn.Module, vectors: Tensor, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    encoder.eval()
    with torch.inference_mode():
        direct = encoder(vectors[ids], lengths)
        tabled = encoder.forward_table(encoder.input_table(vectors), ids, lengths)
    return direct, tabled


# --------------------------------------------------------------------------------------
# CNN


def cnn(widths: list[int], dim: int = 8, filters: int = 5, seed: int = 0) -> CNNEncoder:
    torch.manual_seed(seed)
    encoder = CNNEncoder(CNNOptions(name="cnn", widths=widths, filters=filters), dim)
    for conv in encoder.convs:  # a bias that matters: the table leaves it out
        torch.nn.init.uniform_(conv.bias, -0.5, 0.5)
    return encoder


@pytest.mark.parametrize("widths", [[3, 4, 5], [1], [2], [5], [1, 3], [4, 2]])
@pytest.mark.parametrize("lengths", [
    [7, 1, 3, 5, 2],  # varied, incl. length 1 and tweets shorter than the widest filter
    [2, 1, 3],        # every tweet shorter than the widest filter (T < max width: zero-padded)
    [1],              # a single one-word tweet
])
def test_cnn_table_matches_forward(widths, lengths):
    encoder, vectors = cnn(widths), word_vectors(8)
    ids, lengths_t = padded_ids(lengths)
    direct, tabled = both_paths(encoder, vectors, ids, lengths_t)
    assert tabled.shape == (len(lengths), encoder.output_dim)
    torch.testing.assert_close(tabled, direct, atol=ATOL, rtol=0)


def test_cnn_table_layout():
    """K = filters · sum(widths); PAD's row is zero (the bias stays out of the table)."""
    encoder = cnn([2, 3], filters=4)
    with torch.inference_mode():
        table = encoder.input_table(word_vectors(8))
    assert table.shape == (VOCAB, 4 * 5)
    assert table[PAD_ID].abs().max() == 0


def test_cnn_table_of_multichannel_vectors():
    """Static + dynamic concatenated: still a function of the id, so the same table works."""
    encoder = cnn([3, 4, 5], dim=16)
    vectors = torch.cat([word_vectors(8, seed=0), word_vectors(8, seed=5)], 1)
    ids, lengths = padded_ids([6, 2, 4, 1])
    direct, tabled = both_paths(encoder, vectors, ids, lengths)
    torch.testing.assert_close(tabled, direct, atol=ATOL, rtol=0)


@pytest.mark.parametrize("lengths", [[2, 2, 2], [1], [4, 4]])
def test_cnn_batch_local_table_without_pad(lengths):
    """The wrapper may pass a batch-sized table (its rows for the batch's unique ids) and ids
    into it: with no PAD in the batch, local row 0 is a real word, so a batch shorter than the
    widest filter must not pad with row 0's products."""
    encoder, vectors = cnn([3, 4, 5]), word_vectors(8)
    ids, lengths_t = padded_ids(lengths)
    assert (ids != PAD_ID).all()
    encoder.eval()
    with torch.inference_mode():
        unique, local = torch.unique(ids, return_inverse=True)
        tabled = encoder.forward_table(encoder.input_table(vectors)[unique], local, lengths_t)
        direct = encoder(vectors[ids], lengths_t)
    torch.testing.assert_close(tabled, direct, atol=ATOL, rtol=0)


# --------------------------------------------------------------------------------------
# SRU


def sru(input_dim: int, hidden: int, layers: int, bidirectional: bool, pooling: str, fused: bool) -> SRUEncoder:
    torch.manual_seed(0)
    options = SRUOptions(name="sru", hidden_size=hidden, num_layers=layers, bidirectional=bidirectional,
                         pooling=pooling, dropout=0.3)  # dropout between layers: off in eval mode
    encoder = SRUEncoder(options, input_dim)
    for layer in encoder.layers:
        torch.nn.init.uniform_(layer.b, -0.5, 0.5)
        layer.fused = fused
    return encoder


KERNEL = [pytest.param(True, id="kernel", marks=pytest.mark.skipif(
    not kernel.available(), reason="fused SRU kernel not built (python -m sentinet.models.build_kernel)")),
    pytest.param(False, id="torch")]


@pytest.mark.parametrize("fused", KERNEL)
@pytest.mark.parametrize("input_dim, hidden", [(6, 6), (8, 6)], ids=["k3", "k4"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [True, False], ids=["bi", "uni"])
@pytest.mark.parametrize("pooling", ["max", "mean", "last"])
def test_sru_table_matches_forward(fused, input_dim, hidden, layers, bidirectional, pooling):
    encoder, vectors = sru(input_dim, hidden, layers, bidirectional, pooling, fused), word_vectors(input_dim)
    ids, lengths = padded_ids([7, 1, 3, 5, 2])
    direct, tabled = both_paths(encoder, vectors, ids, lengths)
    assert tabled.shape == (5, encoder.output_dim)
    torch.testing.assert_close(tabled, direct, atol=ATOL, rtol=0)


def test_sru_plain_path_when_the_kernel_is_missing(monkeypatch):
    """kernel.available() False: both forward and forward_table take the plain-torch path."""
    monkeypatch.setattr(kernel, "available", lambda: False)
    encoder, vectors = sru(6, 6, 2, True, "last", fused=True), word_vectors(6)
    ids, lengths = padded_ids([4, 1, 6])
    direct, tabled = both_paths(encoder, vectors, ids, lengths)
    torch.testing.assert_close(tabled, direct, atol=ATOL, rtol=0)


@pytest.mark.parametrize("input_dim, hidden", [(6, 6), (8, 6)], ids=["k3", "k4"])
def test_sru_table_layout(input_dim, hidden):
    """K = dirs·k·H, plus the word itself (the highway) when k == 3; PAD's row is zero."""
    encoder = sru(input_dim, hidden, 1, True, "max", fused=False)
    with torch.inference_mode():
        table = encoder.input_table(word_vectors(input_dim))
    k = encoder.layers[0].k
    assert table.shape == (VOCAB, 2 * k * hidden + (input_dim if k == 3 else 0))
    assert table[PAD_ID].abs().max() == 0


# --------------------------------------------------------------------------------------
# Both: a batch of one gives what the same text gives inside a bigger batch


@pytest.mark.parametrize("make", [
    lambda: cnn([3, 4, 5]),
    lambda: sru(8, 8, 2, True, "max", fused=True),
    lambda: sru(8, 8, 2, True, "max", fused=False),
    lambda: sru(8, 6, 1, False, "last", fused=False),
], ids=["cnn", "sru-kernel", "sru-torch", "sru-k4"])
def test_table_batch_of_one_matches_the_bigger_batch(make):
    encoder, vectors = make(), word_vectors(8)
    ids, lengths = padded_ids([6, 2, 4, 1])
    encoder.eval()
    with torch.inference_mode():
        table = encoder.input_table(vectors)
        batch = encoder.forward_table(table, ids, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone = encoder.forward_table(table, ids[i : i + 1, :n], lengths[i : i + 1])
            torch.testing.assert_close(alone[0], batch[i], atol=1e-6, rtol=0)
