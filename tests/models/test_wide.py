"""train.hybrid: wide (sentinet/models/wide.py): the n-gram features of a text do not depend on
its batch, are the same in every process, read ids the run never trained as <unk>, start at
zero, and travel with the run through train, predict, the Python API, int8 and ONNX."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sentinet.config.schema import from_dict
from sentinet.data.batching import EncodedDataset, collate
from sentinet.data.vocab import PAD_ID, UNK_ID, Vocab
from sentinet.models.builder import build_model
from sentinet.models.wide import BUCKETS, WideNgrams, char_ngrams, char_table
from sentinet.runs import weights

from ..helpers import assert_one_line_error, run_cli, tiny_config_yaml, write_tiny_data

WORDS = ["<pad>", "<unk>", "да", "кот", "спасибо", "ужасно", "#сбербанк_лучший_банк", "a"]
TEXTS = [[2, 3, 4, 5, 6], [7], [3, 3, 1, 2], [6, 5], [4, 2, 7]]  # lengths 5, 1, 4, 2, 3


def split(buckets: torch.Tensor, offsets: torch.Tensor) -> list[list[int]]:
    """EmbeddingBag's flat input back into one list per text."""
    ends = [*offsets[1:].tolist(), len(buckets)]
    return [buckets[start:end].tolist() for start, end in zip(offsets.tolist(), ends)]


def per_text_features(wide: WideNgrams, texts: list[list[int]]) -> list[list[int]]:
    batch = collate(list(EncodedDataset(texts, [0] * len(texts))))  # padded as training pads
    assert batch.ids.shape == (len(texts), max(map(len, texts)))
    return split(*wide.features(batch.ids, batch.lengths))


def wide_model(config: dict | None = None, words: list[str] = WORDS, seed: int = 0) -> torch.nn.Module:
    config = from_dict({"data": {"labels": [-1, 0, 1]}, "model": {"encoder": {"name": "gru", "hidden_size": 8}},
                        **(config or {})})
    torch.manual_seed(seed)
    return build_model(config, Vocab(list(words), n_learned=2), torch.randn(len(words) - 2, 6))


def test_features_of_a_text_are_the_same_padded_in_a_batch_alone_and_in_another_order():
    wide = WideNgrams(WORDS, 3)
    batched = per_text_features(wide, TEXTS)
    alone = [per_text_features(wide, [text])[0] for text in TEXTS]
    reordered = per_text_features(wide, TEXTS[::-1])[::-1]
    assert batched == alone == reordered
    for text, features in zip(TEXTS, batched):  # a word, a bigram after the first, n-grams
        chars = sum(len(char_ngrams(WORDS[i])) if i != UNK_ID else 0 for i in text)
        assert len(features) == len(text) + len(text) - 1 + chars
    torch.nn.init.normal_(wide.bag.weight)  # and so the scores, to the bit
    batch = collate(list(EncodedDataset(TEXTS, [0] * len(TEXTS))))
    scores = wide(batch.ids, batch.lengths)
    for i, text in enumerate(TEXTS):
        assert torch.equal(scores[i], wide(torch.tensor([text]), torch.tensor([len(text)]))[0])


def test_a_fresh_wide_model_scores_exactly_as_the_same_model_without_it():
    for head in ("linear", "hierarchical"):
        deep = wide_model({"model": {"encoder": {"name": "gru", "hidden_size": 8}, "head": head}})
        both = wide_model({"model": {"encoder": {"name": "gru", "hidden_size": 8}, "head": head},
                           "train": {"hybrid": "wide"}})
        assert deep.wide is None and both.wide is not None
        assert not both.wide.bag.weight.any()  # zero-initialised
        shared = deep.state_dict()  # the wide part drew no random numbers: same network weights
        assert all(torch.equal(both.state_dict()[k], v) for k, v in shared.items())
        assert set(both.state_dict()) - set(shared) == {"wide.bag.weight"}  # the n-gram table: from the vocabulary
        batch = collate(list(EncodedDataset(TEXTS, [0] * len(TEXTS))))
        with torch.no_grad():
            assert torch.equal(both.eval()(batch.ids, batch.lengths), deep.eval()(batch.ids, batch.lengths))
            scores, _ = both(batch.ids, batch.lengths, states=True)
            assert torch.equal(scores, deep(batch.ids, batch.lengths))


# ["<pad>", "<unk>", "да", "кот"], the text "да кот <unk>": token by token, its word bucket, its
# bigram with the previous word (none for the first), its word's character n-grams (<unk>: none).
# Computed once from zlib.crc32 and the id mixing: if these change, saved runs read other buckets.
STABLE = [181898, 30572, 149210, 24369, 80732, 186282, 149186,  # да, <д да а> <да да> <да>
          45088, 99825, 23147, 18135, 107469, 156023, 211793, 184808, 67976, 221203, 70333, 87192,  # кот
          56565, 46797]  # <unk>, кот <unk>
STABLE_CODE = ("import torch\nfrom sentinet.models.wide import WideNgrams\n"
               "w = WideNgrams(['<pad>', '<unk>', 'да', 'кот'], 3)\n"
               "print(w.features(torch.tensor([[2, 3, 1]]), torch.tensor([3]))[0].tolist())\n")


def test_the_buckets_are_the_same_in_every_process():
    wide = WideNgrams(["<pad>", "<unk>", "да", "кот"], 3)
    buckets, offsets = wide.features(torch.tensor([[2, 3, 1]]), torch.tensor([3]))
    assert buckets.tolist() == STABLE and offsets.tolist() == [0]
    assert len(char_ngrams("кот")) == 10 and all(0 <= b < BUCKETS for b in STABLE)
    other = subprocess.run([sys.executable, "-c", STABLE_CODE], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "123"})  # another str hash salt
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout) == STABLE


def test_ids_beyond_the_training_vocabulary_and_pad_read_as_unk():
    """Predict time appends rows for unseen words (ids ≥ the table's size): no wide weight was
    trained for them, so they are <unk> there, bigrams included."""
    wide = WideNgrams(WORDS, 3)
    n = len(WORDS)
    assert wide.vocab_size == n
    (beyond,) = per_text_features(wide, [[2, n, 3, n + 7]])
    (unk,) = per_text_features(wide, [[2, UNK_ID, 3, UNK_ID]])
    (pad,) = per_text_features(wide, [[2, PAD_ID, 3, UNK_ID]])
    assert beyond == unk == pad
    (known,) = per_text_features(wide, [[2, 4, 3, 1]])
    assert known != unk


# --------------------------------------------------------------------------------------
# A wide run through the CLI


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory) -> dict[str, Path]:
    """Two epochs of a GRU with the wide part on the tiny corpus, trained as a user trains."""
    data = write_tiny_data(tmp_path_factory.mktemp("wide"))
    config = data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(data), encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--set", "train.hybrid=wide")
    assert result.returncode == 0, result.stderr
    (run,) = (data["dir"] / "runs").iterdir()
    return {**data, "run": run}


def test_a_wide_run_predicts_like_the_python_api_and_keeps_its_weights(wide_run):
    run, lines = wide_run["run"], wide_run["dir"] / "texts.txt"
    texts = ["сбербанк спасибо отлично", "втб ужасно плохо", "кошмар", "великолепно сбербанк"]  # 2 unseen words
    lines.write_text("\n".join(texts) + "\n", encoding="utf-8")
    state = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    weight = state["wide.bag.weight"]
    assert weight.shape == (BUCKETS, 3) and weight.abs().sum() > 0  # trained, saved with the network
    assert not any(key.startswith("wide.char") for key in state)  # the n-gram table: rebuilt at load
    loaded = weights.load_run(run, torch.device("cpu")).model
    words = json.loads((run / "vocab.json").read_text(encoding="utf-8"))["words"]
    assert torch.equal(loaded.wide.bag.weight, weight)
    assert all(torch.equal(a, b) for a, b in zip((loaded.wide.char_buckets, loaded.wide.char_offsets),
                                                  char_table(words)))

    cli = run_cli("predict", str(run), str(lines))
    assert cli.returncode == 0, cli.stderr
    rows = list(csv.DictReader(io.StringIO(cli.stdout)))
    import sentinet

    probs = sentinet.load(run, device="cpu").predict_proba(texts)
    names = ["negative", "neutral", "positive"]
    assert [[round(float(p), 6) for p in row] for row in probs] == [[float(r[f"p_{n}"]) for n in names] for r in rows]


def test_a_wide_run_quantises_with_its_wide_part_float(wide_run):
    from sentinet.models.quantize import quantise_int8

    model = weights.load_run(wide_run["run"], torch.device("cpu")).model
    names = quantise_int8(model, torch.device("cpu"))
    assert names and not any(name.startswith("wide") for name in names)
    assert model.wide.bag.weight.dtype == torch.float32
    result = run_cli("predict", str(wide_run["run"]), str(wide_run["lines"]), "--int8")
    assert result.returncode == 0, result.stderr


def test_a_wide_run_exports_to_onnx_with_its_wide_part(wide_run, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    from sentinet.inference.opener import open_predictor
    from sentinet.runs.onnx import feed

    graph = tmp_path / "model.onnx"
    result = run_cli("export", str(wide_run["run"]), "--onnx", str(graph))
    assert result.returncode == 0, result.stderr
    meta = json.loads(graph.with_name("model.onnx.json").read_text(encoding="utf-8"))
    assert "not_in_graph" not in meta  # unlike a blend, the whole model is in the graph
    texts = ["кошмар", "сбербанк спасибо отлично", "втб ужасно плохо zzzz", "втб"]  # кошмар: unseen
    (probs,) = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"]).run(["probs"], feed(meta, texts))
    expected = open_predictor(wide_run["run"], "cpu").predict_proba(texts, progress=False)
    np.testing.assert_allclose(probs, expected, atol=1e-5, rtol=0)


def test_a_wide_run_explains_by_occlusion_and_refuses_gradients(wide_run):
    """Occlusion asks the whole model; integrated gradients would follow the word vectors and
    miss the n-gram part, so they refuse in one line."""
    occluded = run_cli("explain", str(wide_run["run"]), "сбербанк спасибо отлично", "--json")
    assert occluded.returncode == 0, occluded.stderr
    refused = run_cli("explain", str(wide_run["run"]), "сбербанк спасибо", "--method", "integrated_gradients")
    assert_one_line_error(refused, "linear part over n-grams", "--method occlusion")
