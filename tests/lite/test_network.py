"""The light engine's numpy networks (sentinet/lite) against the torch models they copy: every
encoder, direction, layer count, pooling, channel count and head, with random weights (biases
included, away from the init's zeros), on batches with a one-word text, ties and padding.
Probabilities agree within 1e-5 (float32 rounding: they differ by ~1e-7)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from sentinet.config.schema import from_dict
from sentinet.data.vocab import PAD, UNK, Vocab
from sentinet.errors import SentinetError
from sentinet.lite import files
from sentinet.lite.network import LiteNetwork
from sentinet.models.builder import build_model

ATOL = 1e-5
LENGTHS = [3, 1, 7, 7, 2, 5, 12]
WORDS, LEARNED, DIM = 40, 5, 8

RECURRENT = [({"name": cell, "hidden_size": 16, "num_layers": layers, "bidirectional": bi, "pooling": pooling}, False)
             for cell, bi, layers, pooling in itertools.product(["gru", "lstm", "rnn"], [True, False], [1, 2],
                                                                 ["max", "mean", "last"])]
OTHERS = [({"name": "cnn", "widths": [2, 3, 5], "filters": 6}, False),
          ({"name": "cnn", "widths": [1, 4], "filters": 3}, True),
          ({"name": "gru", "hidden_size": 8}, True),
          # SRU: hidden = the input's size (k = 3, the word is the highway) or not (k = 4), stacked
          ({"name": "sru", "hidden_size": 8, "num_layers": 2, "bidirectional": True, "pooling": "max"}, False),
          ({"name": "sru", "hidden_size": 8, "num_layers": 2, "bidirectional": False, "pooling": "last"}, False),
          ({"name": "sru", "hidden_size": 6, "num_layers": 1, "bidirectional": True, "pooling": "mean"}, True),
          ({"name": "sru", "hidden_size": 16, "num_layers": 3, "bidirectional": True, "pooling": "last"}, False)]


def config(encoder: dict, multichannel: bool = False, head: str = "linear", hybrid: str = "none"):
    return from_dict({"model": {"encoder": encoder, "multichannel": multichannel, "head": head},
                      "vectors": {"oov": "learn"}, "train": {"hybrid": hybrid}})


def vocab() -> Vocab:
    return Vocab([PAD, UNK, *(f"w{i}" for i in range(2, WORDS))], n_learned=LEARNED)


def model(cfg, seed: int = 0):
    torch.manual_seed(seed)
    net = build_model(cfg, vocab(), torch.randn(WORDS - LEARNED, DIM), freeze=True)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith(("encoder.", "head.")):
                torch.nn.init.normal_(p, std=0.3)
    return net.eval()


def texts(lengths: list[int] = LENGTHS, words: int = WORDS, seed: int = 1) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(1, words, size=n).tolist() for n in lengths]


def torch_probs(net, rows: list[list[int]]) -> np.ndarray:
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    with torch.inference_mode():
        return net.probabilities(net(ids, torch.tensor([len(r) for r in rows]))).float().numpy()


def lite(cfg, net) -> LiteNetwork:
    made = files.to_lite(cfg, LEARNED, WORDS, net.state_dict())
    assert not isinstance(made, str), made
    return LiteNetwork(cfg, made[1])


@pytest.mark.parametrize("encoder, multichannel", RECURRENT + OTHERS, ids=str)
def test_every_encoder_gives_torchs_probabilities(encoder, multichannel):
    cfg = config(encoder, multichannel)
    net = model(cfg)
    light, rows = lite(cfg, net), texts()
    np.testing.assert_allclose(light.predict_ids(rows, batch_size=3), torch_probs(net, rows), rtol=0, atol=ATOL)
    # one text at a time (a batch of one, no padding) and again once the table holds every word
    for r in rows[:3]:
        np.testing.assert_allclose(light.predict_ids([r]), torch_probs(net, [r]), rtol=0, atol=ATOL)


def test_a_multilabel_head_gives_each_class_its_sigmoid():
    cfg = config({"name": "gru", "hidden_size": 8}, head="multilabel")
    net = model(cfg)
    got = lite(cfg, net).predict_ids(texts())
    np.testing.assert_allclose(got, torch_probs(net, texts()), rtol=0, atol=ATOL)
    assert not np.allclose(got.sum(1), 1)


@pytest.mark.parametrize("multichannel", [False, True])
def test_words_appended_at_predict_time_read_as_the_torch_embedder_reads_them(multichannel):
    cfg = config({"name": "lstm", "hidden_size": 8, "pooling": "mean"}, multichannel)
    net, extra = model(cfg), torch.randn(3, DIM, generator=torch.Generator().manual_seed(5))
    light = lite(cfg, net)
    light.predict_ids(texts())  # the table already holds rows: the new ids grow it
    net.embedder.append_pretrained(extra)
    light.append_pretrained(extra.numpy())
    rows = texts(words=WORDS + 3, seed=4) + [[WORDS, WORDS + 2, 1]]
    np.testing.assert_allclose(light.predict_ids(rows), torch_probs(net, rows), rtol=0, atol=ATOL)


def test_a_full_table_starts_over_and_still_gives_the_same_numbers():
    cfg = config({"name": "gru", "hidden_size": 8})
    net = model(cfg)
    light = lite(cfg, net)
    light.max_bytes = 10 * 48 * 4  # ten words' rows
    rows = texts([4] * 30, seed=7)
    np.testing.assert_allclose(light.predict_ids(rows, batch_size=2), torch_probs(net, rows), rtol=0, atol=ATOL)
    assert light._used * 48 * 4 <= light.max_bytes


@pytest.mark.parametrize("cfg, why", [
    (config({"name": "gru"}, head="hierarchical"), "model.head: hierarchical"),
    (config({"name": "gru"}, hybrid="wide"), "train.hybrid: wide"),
])
def test_a_model_the_engine_cannot_express_gets_no_light_files(cfg, why):
    assert files.to_lite(cfg, LEARNED, WORDS, model(cfg).state_dict()) == why


def test_unknown_parameters_are_not_guessed_at():
    cfg = config({"name": "gru", "hidden_size": 8})
    state = {**model(cfg).state_dict(), "extra.weight": torch.zeros(2)}
    assert files.to_lite(cfg, LEARNED, WORDS, state) == "parameters extra.weight"


def test_damaged_light_files_are_one_line_naming_them(tmp_path):
    cfg = config({"name": "gru", "hidden_size": 8})
    spec, arrays = files.to_lite(cfg, LEARNED, WORDS, model(cfg).state_dict())
    npz, spec_path = tmp_path / "lite.npz", tmp_path / "lite.json"
    files.write(spec, arrays, npz, spec_path)
    assert files.readable(spec_path) and files.read(cfg, WORDS, spec_path, npz).keys() == arrays.keys()
    with pytest.raises(SentinetError, match="the light spec does not describe the run's config.yaml"):
        files.read(cfg, WORDS + 1, spec_path, npz)  # a vocabulary of another size
    files.write(spec, {**arrays, "head.1.bias": np.zeros(4, np.float32)}, npz, spec_path)
    with pytest.raises(SentinetError, match=r"lite.npz: light weights do not fit the run's config \(head.1.bias\)"):
        files.read(cfg, WORDS, spec_path, npz)
    npz.write_bytes(b"not a zip")
    with pytest.raises(SentinetError, match="lite.npz: unreadable light weights"):
        files.read(cfg, WORDS, spec_path, npz)
    spec_path.write_text('{"format": 99}', encoding="utf-8")
    assert not files.readable(spec_path)  # a later format: the archive goes to torch
