"""Encoders and the classifier: padding invariance, gradient flow, determinism."""

import dataclasses

import pytest
import torch

from sentinet.config.schema import ModelConfig
from sentinet.data.batching import EncodedDataset, collate
from sentinet.config.encoders import ENCODERS
from sentinet.models.classifier import Embedder, SentimentClassifier

ENCODER_NAMES = sorted(ENCODERS)
SEQS = [[5, 9, 3, 12, 7], [4, 2], [8, 6, 11, 13, 10, 3, 2], [14]]  # id 2,3 learned; ≥4 pretrained


SMALL = {"cnn": {"filters": 4}}  # per-encoder options for a tiny model
RECURRENT_SMALL = {"hidden_size": 8, "num_layers": 2}
VARIANTS = [("cnn", {}), ("cnn", {"widths": [2]}), ("cnn", {"multichannel": True})] + [
    (name, {"pooling": pooling, "bidirectional": bidirectional})
    for name in ("rnn", "lstm", "gru", "sru")
    for pooling in ("max", "mean", "last")
    for bidirectional in (True, False)
]


def make_model(name: str, seed: int = 0, multichannel: bool = False, **options) -> SentimentClassifier:
    torch.manual_seed(seed)
    small = SMALL.get(name, RECURRENT_SMALL)
    opts = dataclasses.replace(ENCODERS[name].options(name=name), **{**small, **options})
    embedder = Embedder(torch.randn(12, 6), n_learned=4, freeze=True, learn_oov=True,
                        multichannel=multichannel)
    return SentimentClassifier(embedder, ModelConfig(encoder=opts, embedding_dropout=0.1,
                                                     multichannel=multichannel), num_classes=3)


def batch_of(seqs):
    return collate(list(EncodedDataset(seqs, [0] * len(seqs))))


def test_every_registered_encoder_is_tested():
    assert {name for name, _ in VARIANTS} == set(ENCODER_NAMES)


@pytest.mark.parametrize("name, options", VARIANTS, ids=lambda v: str(v))
def test_padding_invariance(name, options):
    model = make_model(name, **options).eval()
    batch = batch_of(SEQS)
    assert batch.ids.shape == (4, 7)
    with torch.no_grad():
        together = model(batch.ids, batch.lengths)
        for i, seq in enumerate(SEQS):
            alone = batch_of([seq])
            torch.testing.assert_close(model(alone.ids, alone.lengths)[0], together[i],
                                       atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name, options", [(n, {}) for n in ENCODER_NAMES] + [("cnn", {"multichannel": True})])
def test_gradients_reach_trainable_parameters_only(name, options):
    model = make_model(name, **options).train()
    batch = batch_of(SEQS)
    torch.nn.functional.cross_entropy(model(batch.ids, batch.lengths), torch.tensor([0, 1, 2, 1])).backward()
    assert model.embedder.pretrained.weight.grad is None  # frozen vectors never get a gradient
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, pname
    assert model.embedder.learned.weight.grad[0].abs().sum() == 0  # <pad> row stays zero


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_same_seed_same_model(name):
    batch = batch_of(SEQS)
    a, b, c = make_model(name, seed=1), make_model(name, seed=1), make_model(name, seed=2)
    for m in (a, b, c):
        m.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(batch.ids, batch.lengths), b(batch.ids, batch.lengths))
        assert not torch.allclose(a(batch.ids, batch.lengths), c(batch.ids, batch.lengths))


def test_embedder_maps_ids_to_the_right_table():
    pretrained = torch.arange(12.0).view(4, 3)
    emb = Embedder(pretrained, n_learned=2, freeze=True, learn_oov=True)
    out = emb(torch.tensor([[0, 1, 2, 5]]))
    assert torch.equal(out[0, 0], torch.zeros(3))  # <pad>
    torch.testing.assert_close(out[0, 1], emb.learned.weight[1])  # <unk>
    assert torch.equal(out[0, 2], pretrained[0]) and torch.equal(out[0, 3], pretrained[3])
    emb.append_pretrained(torch.full((1, 3), 7.0))
    assert torch.equal(emb(torch.tensor([6])), torch.full((1, 3), 7.0))
    assert not emb.pretrained.weight.requires_grad


def test_zero_oov_policy_has_fixed_zero_unk():
    emb = Embedder(torch.ones(3, 4), n_learned=2, freeze=True, learn_oov=False)
    assert torch.equal(emb(torch.tensor([1])), torch.zeros(1, 4))
    assert not any(p.requires_grad for p in emb.parameters())


def test_lstm_forget_gate_bias_is_one():
    model = make_model("lstm")
    rnn = model.encoder.rnn
    h = rnn.hidden_size
    total = rnn.bias_ih_l0 + rnn.bias_hh_l0
    assert torch.all(total[h : 2 * h] == 1) and torch.all(total[:h] == 0)
    w = rnn.weight_hh_l0[:h]
    torch.testing.assert_close(w @ w.T, torch.eye(h), atol=1e-5, rtol=0)  # orthogonal


def test_max_norm_constraint_caps_head_rows():
    torch.manual_seed(0)
    embedder = Embedder(torch.randn(12, 6), n_learned=4, freeze=True, learn_oov=True)
    model = SentimentClassifier(embedder, ModelConfig(encoder=ENCODERS["cnn"].options(name="cnn"),
                                                      head_max_norm=0.05), num_classes=3)
    with torch.no_grad():
        model.head[-1].weight.mul_(100)
    model.apply_constraints()
    norms = model.head[-1].weight.norm(dim=1)
    assert torch.all(norms <= 0.05 + 1e-6) and torch.all(norms > 0.049)


def test_multichannel_doubles_the_input_and_trains_the_copy():
    model = make_model("cnn", multichannel=True)
    assert model.embedder.output_dim == 12
    assert model.embedder.dynamic.weight.requires_grad
    ids = torch.tensor([[0, 5]])
    out = model.embedder(ids)
    torch.testing.assert_close(out[..., :6], out[..., 6:])  # both channels start equal
    assert torch.equal(out[0, 0], torch.zeros(12))  # <pad> stays zero in both


@pytest.mark.parametrize("name, options", VARIANTS, ids=lambda v: str(v))
def test_inference_loop_gives_the_loader_numbers_exactly(name, options):
    """predict's plain loop (sort, pad, no DataLoader) replaced a DataLoader over length-sorted
    batches: same batches, so the very same floats, row for row, in input order."""
    from sentinet.data.batching import make_loader
    from sentinet.inference.predictor import predict_ids

    model = make_model(name, **options).eval()
    gen = torch.Generator().manual_seed(5)
    seqs = [torch.randint(2, 12, (int(n),), generator=gen).tolist()
            for n in torch.randint(1, 10, (23,), generator=gen)]
    dataset = EncodedDataset(seqs)
    expected = torch.zeros(len(seqs), 3)
    with torch.no_grad():
        for batch in make_loader(dataset, batch_size=4, shuffle=False):
            expected[batch.index] = torch.softmax(model(batch.ids, batch.lengths), dim=-1)
    got = predict_ids(model, seqs, torch.device("cpu"), batch_size=4)
    assert got.shape == (23, 3) and torch.equal(torch.from_numpy(got), expected)
    assert predict_ids(model, [], torch.device("cpu")).shape == (0, 3)
