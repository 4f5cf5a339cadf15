"""Opt-in int8 inference: which layers are swapped, how far probabilities move, and the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
import torch

from sentinet.config.schema import ModelConfig
from sentinet.errors import SentinetError
from sentinet.config.encoders import ENCODERS
from sentinet.models.classifier import Embedder, SentimentClassifier
from sentinet.models.quantize import quantise_int8

from tests.helpers import assert_one_line_error, run_cli

CPU = torch.device("cpu")


def classifier(name: str, seed: int = 0) -> SentimentClassifier:
    torch.manual_seed(seed)
    options = dataclasses.replace(ENCODERS[name].options(name=name), **(
        {"filters": 16} if name == "cnn" else {"hidden_size": 16, "bidirectional": True}))
    embedder = Embedder(torch.randn(50, 12), n_learned=2, freeze=True, learn_oov=True)
    return SentimentClassifier(embedder, ModelConfig(encoder=options), num_classes=3).eval()


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([7, 5, 5, 2, 1])
    ids = torch.randint(2, 52, (5, 7), generator=g)
    ids[torch.arange(7) >= lengths.unsqueeze(1)] = 0
    return ids, lengths


@pytest.mark.parametrize("name, swapped", [
    ("gru", ["encoder.rnn", "head.1"]),
    ("lstm", ["encoder.rnn", "head.1"]),
    ("sru", ["head.1"]),   # its projection is read as a matrix, never called
    ("cnn", ["head.1"]),   # no dynamic int8 convolution
])
def test_quantised_layers_and_probabilities(name, swapped):
    model = classifier(name)
    ids, lengths = batch()
    with torch.inference_mode():
        before = torch.softmax(model(ids, lengths), -1)
    names = quantise_int8(model, CPU)
    assert names == swapped, names
    assert all("quantized" in type(model.get_submodule(n)).__module__ for n in names)
    with torch.inference_mode():
        after = torch.softmax(model(ids, lengths), -1)
    assert not torch.equal(before, after)  # int8 weights really are used
    assert (after - before).abs().max() < 0.02
    torch.testing.assert_close(after.sum(-1), torch.ones(5))


def test_quantised_gru_still_ignores_padding():
    model = classifier("gru")
    quantise_int8(model, CPU)
    ids, lengths = batch()
    wide = torch.cat([ids, torch.zeros(5, 4, dtype=torch.long)], 1)
    with torch.inference_mode():
        torch.testing.assert_close(model(ids, lengths), model(wide, lengths))


def test_int8_needs_the_cpu():
    with pytest.raises(SentinetError, match="--int8 runs on the CPU"):
        quantise_int8(classifier("gru"), torch.device("cuda"))


def test_predict_and_eval_with_int8(learned_run):
    plain = run_cli("predict", str(learned_run["run"]), str(learned_run["train"]))
    fast = run_cli("predict", str(learned_run["run"]), str(learned_run["train"]), "--int8")
    assert plain.returncode == 0 and fast.returncode == 0, fast.stderr
    rows = [list(csv.DictReader(io.StringIO(r.stdout))) for r in (plain, fast)]
    assert [r["id"] for r in rows[0]] == [r["id"] for r in rows[1]]
    agree = sum(a["label"] == b["label"] for a, b in zip(*rows)) / len(rows[0])
    assert agree >= 0.95, agree
    delta = max(abs(float(a[k]) - float(b[k])) for a, b in zip(*rows) for k in a if k.startswith("p_"))
    assert 0 < delta < 0.05
    scored = run_cli("eval", str(learned_run["run"]), str(learned_run["train"]), "--int8", "--json")
    assert scored.returncode == 0, scored.stderr
    assert '"f_macro"' in scored.stdout


def test_int8_on_a_baseline_run_is_one_line(tiny_data, tmp_path):
    from tests.helpers import tiny_config_yaml

    config = tmp_path / "c.yaml"
    config.write_text(tiny_config_yaml(tiny_data), encoding="utf-8")
    fitted = run_cli("baseline", "--config", str(config), "--output-dir", str(tmp_path / "b"))
    assert fitted.returncode == 0, fitted.stderr
    (run,) = (tmp_path / "b").iterdir()
    result = run_cli("predict", str(run), str(tiny_data["lines"]), "--int8")
    assert_one_line_error(result, "--int8", "linear baseline")
