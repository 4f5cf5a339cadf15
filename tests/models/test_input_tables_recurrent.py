"""Frozen-input tables (sentinet/models/tables.py) for the GRU, LSTM and tanh-RNN encoders, and
the classifier wrapper that predict runs.

The table path must give forward()'s tweet vectors within float rounding: the input products
are blocked differently (one [V, D] × [D, K] product instead of a [B·T, D] one) and the fused
loop computes tanh through exp, so 1e-5 absolute on O(1) values, where the two paths actually
differ by ~1e-6. Both loops (fused C++, torch ops) are held to it, in every direction, layer
count and pooling, on a batch with a length-1 text, ties and padding.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from sentinet.config.encoders import RecurrentOptions
from sentinet.config.schema import from_dict
from sentinet.data.vocab import Vocab
from sentinet.models import recurrent_steps
from sentinet.models.builder import build_model
from sentinet.models.quantize import quantise_int8
from sentinet.models.recurrent import RecurrentEncoder
from sentinet.models import kernel
from sentinet.models.tables import TabledClassifier, supports

ATOL = 1e-5
LENGTHS = [3, 1, 7, 7, 2, 5]
CASES = list(itertools.product(["gru", "lstm", "rnn"], [True, False], [1, 2], ["max", "mean", "last"]))
LOOPS = ["torch", "fused"]


def use_loop(monkeypatch, loop: str) -> None:
    if loop == "fused" and not kernel.available():
        pytest.skip("the fused CPU kernel is not built here (python -m sentinet.models.build_kernel)")
    if loop == "torch":
        monkeypatch.setattr(recurrent_steps, "fused", lambda gi: False)


def encoder(cell: str, bidirectional: bool, layers: int, pooling: str, dim: int = 8) -> RecurrentEncoder:
    torch.manual_seed(0)
    options = RecurrentOptions(name=cell, hidden_size=16, num_layers=layers, bidirectional=bidirectional,
                               pooling=pooling)
    enc = RecurrentEncoder(cell, options, dim).eval()
    for p in enc.parameters():  # away from the init's zero biases, so every term matters
        torch.nn.init.normal_(p, std=0.3)
    return enc


def batch(words: int = 50, lengths: list[int] = LENGTHS) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, words, (n,), generator=generator)
    return ids, torch.tensor(lengths)


def vectors(words: int = 50, dim: int = 8) -> torch.Tensor:
    table = torch.randn(words, dim, generator=torch.Generator().manual_seed(2))
    table[0] = 0  # <pad>, as the embedder's row 0
    return table


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize(("cell", "bidirectional", "layers", "pooling"), CASES)
def test_the_table_path_gives_forwards_tweet_vectors(monkeypatch, loop, cell, bidirectional, layers, pooling):
    use_loop(monkeypatch, loop)
    enc, table = encoder(cell, bidirectional, layers, pooling), vectors()
    ids, lengths = batch()
    with torch.inference_mode():
        expected = enc(table[ids], lengths)
        got = enc.forward_table(enc.input_table(table), ids, lengths)
    assert got.shape == expected.shape == (len(LENGTHS), enc.output_dim)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_a_text_alone_reads_as_it_does_in_a_batch_padded_wider(monkeypatch, loop, cell):
    use_loop(monkeypatch, loop)
    enc, table = encoder(cell, True, 2, "max"), vectors()
    ids, lengths = batch()
    with torch.inference_mode():
        rows = enc.input_table(table)
        together = enc.forward_table(rows, ids, lengths)
        for i, n in enumerate(LENGTHS):
            alone = enc.forward_table(rows, ids[i:i + 1, :n], lengths[i:i + 1])
            torch.testing.assert_close(alone[0], together[i], atol=1e-6, rtol=0)


def test_the_fused_and_torch_loops_agree(monkeypatch):
    if not kernel.available():
        pytest.skip("the fused CPU kernel is not built here")
    enc, table = encoder("gru", True, 1, "mean"), vectors()
    ids, lengths = batch()
    with torch.inference_mode():
        rows = enc.input_table(table)
        fused = enc.forward_table(rows, ids, lengths)
        monkeypatch.setattr(recurrent_steps, "fused", lambda gi: False)
        plain = enc.forward_table(rows, ids, lengths)
    torch.testing.assert_close(fused, plain, atol=1e-6, rtol=0)


# --------------------------------------------------------------------------------------
# The classifier wrapper

WORDS = ["<pad>", "<unk>", *[f"w{i}" for i in range(40)]]
VARIANTS = {
    "gru, learned oov rows": {"model": {"encoder": {"name": "gru", "hidden_size": 8, "bidirectional": True}}},
    "lstm, multichannel": {"model": {"multichannel": True,
                                     "encoder": {"name": "lstm", "hidden_size": 8, "pooling": "mean"}}},
    "rnn, hierarchical head": {"model": {"head": "hierarchical", "encoder": {"name": "rnn", "hidden_size": 8}}},
    "gru, wide part": {"model": {"encoder": {"name": "gru", "hidden_size": 8}}, "train": {"hybrid": "wide"}},
    "gru, multi-label": {"model": {"head": "multilabel", "encoder": {"name": "gru", "hidden_size": 8}}},
}


def classifier(variant: dict):
    config = from_dict({"data": {"labels": ["a", "b", "c"]}, "vectors": {"oov": "learn"}, **variant})
    torch.manual_seed(0)
    model = build_model(config, Vocab(list(WORDS), n_learned=2), torch.randn(len(WORDS) - 2, 6)).eval()
    with torch.no_grad():
        model.embedder.learned.weight[1:].normal_()  # a learned <unk> row, as training leaves it
    return model


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS)
def test_the_wrapper_scores_as_the_model_does(variant):
    model = classifier(variant)
    ids, lengths = batch(words=len(WORDS))
    ids[0, 0] = 1  # an <unk>
    with torch.inference_mode():
        expected = model(ids, lengths)
        got = TabledClassifier(model)(ids, lengths)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_words_appended_after_the_table_was_built_get_their_rows():
    model = classifier(VARIANTS["gru, learned oov rows"])
    tabled = TabledClassifier(model)
    ids, lengths = batch(words=len(WORDS))
    with torch.inference_mode():
        tabled(ids, lengths)
        built = len(tabled.table)
        model.embedder.append_pretrained(torch.randn(5, 6))  # predict time: unseen words
        ids[2, :3] = torch.tensor([len(WORDS), len(WORDS) + 4, len(WORDS) + 2])
        expected = model(ids, lengths)
        got = tabled(ids, lengths)
    assert len(tabled.table) == len(WORDS) + 5 > built
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_a_bounded_table_computes_the_rows_past_it_per_batch():
    model = classifier(VARIANTS["gru, learned oov rows"])
    width = 2 * 3 * 8  # directions × gates × hidden
    tabled = TabledClassifier(model, max_bytes=10 * 4 * width)  # room for 10 rows
    ids, lengths = batch(words=len(WORDS))
    with torch.inference_mode():
        got = tabled(ids, lengths)
        expected = model(ids, lengths)
    assert tabled.table.shape == (10, width) and tabled.nbytes == 10 * 4 * width
    assert int(ids.max()) >= 10  # the batch did reach past the table
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_tables_are_used_only_where_they_apply(monkeypatch):
    model = classifier(VARIANTS["gru, learned oov rows"])
    cpu = torch.device("cpu")
    assert supports(model, cpu)
    assert not supports(model, torch.device("cuda"))  # cuDNN's fused layers are faster there
    monkeypatch.setenv("SENTINET_TABLES", "0")
    assert not supports(model, cpu)
    monkeypatch.delenv("SENTINET_TABLES")
    quantise_int8(model, cpu)  # int8 layers compute from quantised weights on the fly
    assert not supports(model, cpu)
