"""The decision rule (argmax plus a per-class log bias tuned on dev, for sentiment labels in
any spelling and class order, left at zero for other label sets) and the fast F-macro it is
tuned with; concatenated vector files (a word missing from one gets zeros there); a --seeds
ensemble (members inside the group, averaged probabilities, its decision bias, loaded like a
run); a run whose vectors file is gone (a warning, unseen words map to <unk>, known words
unchanged)."""

import json

import numpy as np
import pytest

from sentinet.config.schema import from_dict
from sentinet.labels import LabelSet
from sentinet.evaluation.decision import _f_macro, decide, tune_bias
from sentinet.data.embeddings import ConcatVectors, open_vectors
from sentinet.training.groups import train_ensemble
from sentinet.inference.opener import open_predictor
from sentinet.evaluation.metrics import sentirueval_scores
from sentinet.training.loop import train

from tests.helpers import tiny_raw


SENTIMENT = LabelSet((-1, 0, 1))


def test_decide_applies_log_bias():
    probs = np.array([[0.5, 0.4, 0.1], [0.2, 0.5, 0.3]])
    assert decide(probs, SENTIMENT) == [-1, 0]
    assert decide(probs, SENTIMENT, (0.0, 0.0, np.log(2))) == [-1, 1]  # 0.3 * 2 > 0.5
    assert decide(probs, LabelSet(("b", "a", "c")), (0.0, 0.0, np.log(2))) == ["b", "c"]


def test_tune_bias_finds_the_rare_class():
    # positives are predicted with low confidence: argmax never says positive
    probs = np.array([[0.1, 0.6, 0.3]] * 5 + [[0.1, 0.8, 0.1]] * 5 + [[0.8, 0.1, 0.1]] * 5)
    gold = [{"a": 1}] * 5 + [{"a": 0}] * 5 + [{"a": -1}] * 5
    assert sentirueval_scores(gold, decide(probs, SENTIMENT))["f_macro"] == pytest.approx(0.5)
    bias, score = tune_bias(probs, gold, SENTIMENT)
    assert score == pytest.approx(1.0) and bias[2] > 0
    assert sentirueval_scores(gold, decide(probs, SENTIMENT, bias))["f_macro"] == pytest.approx(1.0)


def test_tune_bias_follows_the_sentiment_classes_wherever_they_are():
    """The same search on string labels in another class order finds the same rule."""
    probs = np.array([[0.1, 0.6, 0.3]] * 5 + [[0.1, 0.8, 0.1]] * 5 + [[0.8, 0.1, 0.1]] * 5)
    gold = [{"a": 1}] * 5 + [{"a": 0}] * 5 + [{"a": -1}] * 5
    words = {-1: "Negative", 0: "neutral", 1: "positive"}
    order = [2, 0, 1]  # classes: positive, negative, neutral
    labels = LabelSet(tuple(words[(-1, 0, 1)[i]] for i in order))
    bias, score = tune_bias(probs[:, order], [{"a": words[g["a"]]} for g in gold], labels)
    assert score == pytest.approx(1.0)
    assert bias == tuple(tune_bias(probs, gold, SENTIMENT)[0][i] for i in order)


def test_tune_bias_leaves_other_label_sets_alone():
    probs = np.array([[0.6, 0.4], [0.3, 0.7]])
    bias, score = tune_bias(probs, [{"label": "yes"}, {"label": "no"}], LabelSet(("yes", "no")))
    assert bias == (0.0, 0.0) and score == pytest.approx(1.0)


def test_fast_f_macro_matches_sklearn():
    rng = np.random.default_rng(0)
    truth, pred = rng.integers(-1, 2, 500), rng.integers(-1, 2, 500)
    gold = [{"a": int(t)} for t in truth]
    assert _f_macro(truth, pred) == pytest.approx(sentirueval_scores(gold, pred.tolist())["f_macro"])


def test_concat_vectors_pads_missing_words_with_zeros(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("2 2\nбанк 1 2\nхорошо 3 4\n", encoding="utf-8")
    b.write_text("1 3\nбанк 5 6 7\n", encoding="utf-8")
    store = ConcatVectors([open_vectors(a), open_vectors(b)])
    assert store.dim == 5 and "хорошо" in store and "нет" not in store
    np.testing.assert_array_equal(store.lookup(["банк", "хорошо"]), [[1, 2, 5, 6, 7], [3, 4, 0, 0, 0]])


def test_ensemble_averages_members_and_loads_like_a_run(tiny_data):
    raw = tiny_raw(tiny_data, train__tune_decision=True)
    ens = train_ensemble(from_dict(raw), seeds=2)
    assert (ens.path / "ensemble.json").is_file() and (ens.path / "decision.json").is_file()
    assert [m.run_dir for m in ens.members] == [ens.path / "seed3", ens.path / "seed4"]  # inside the group
    summary = json.loads((ens.path / "metrics.json").read_text())
    assert summary["seeds"] == [3, 4] and 0 <= summary["ensemble"]["f_macro"] <= 1
    ensemble = open_predictor(ens.path, "cpu")
    texts = ["сбербанк спасибо", "втб ужасно плохо"]
    singles = [open_predictor(m.run_dir, "cpu").predict_proba(texts, progress=False)
               for m in ens.members]
    np.testing.assert_allclose(ensemble.predict_proba(texts, progress=False), np.mean(singles, 0), rtol=1e-5)
    assert ensemble.bias == tuple(summary["decision_bias"])


def test_missing_vectors_file_warns_and_maps_unseen_words_to_unk(tiny_data, capsys):
    result = train(from_dict(tiny_raw(tiny_data)))
    texts = ["кошмар кошмар", "сбербанк спасибо"]  # "кошмар": only in the vectors file
    with_vectors = open_predictor(result.run_dir, "cpu").predict_proba(texts, progress=False)
    tiny_data["vectors"].rename(tiny_data["vectors"].with_suffix(".gone"))
    without = open_predictor(result.run_dir, "cpu").predict_proba(texts, progress=False)
    assert "warning: unseen words map to <unk>" in capsys.readouterr().err
    np.testing.assert_allclose(without[1], with_vectors[1], rtol=1e-5)  # known words unchanged
    assert not np.allclose(without[0], with_vectors[0])  # the unseen word lost its vector
