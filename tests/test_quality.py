"""Issue-4 tools: decision rule, grouped split, loss weights, schedules, word dropout,
late unfreezing, vector concatenation, seed ensembles, `embeddings train`."""

import json

import numpy as np
import pytest
import torch
import yaml

from sentinet.config import SchedulerConfig, TrainConfig, from_dict
from sentinet.models import ENCODER_OPTIONS
from sentinet.data.splits import duplicate_key, split_dev
from sentinet.data.readers import Record
from sentinet.labels import LabelSet
from sentinet.decision import _f_macro, decide, tune_bias
from sentinet.embeddings import ConcatVectors, open_vectors
from sentinet.artifacts import load_weights
from sentinet.ensemble import train_ensemble
from sentinet.errors import SentinetError
from sentinet.inference import Predictor
from sentinet.metrics import sentirueval_scores
from sentinet.optimization import Schedule, build_loss
from sentinet.training import train

from .conftest import tiny_config_yaml, write_word2vec_text


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


def test_duplicate_key_ignores_links_mentions_numbers():
    a = duplicate_key("RT @bank: Сбербанк ОПЯТЬ завис!!! http://t.co/abc 123")
    assert a == duplicate_key("сбербанк опять завис http://t.co/xyz") == "сбербанк опять завис"


def test_grouped_split_keeps_duplicates_together():
    records = [Record(str(i), f"текст номер {'абвгдежзик'[i % 10] * (i % 37 + 1)} http://t.co/{i}",
                      {"a": (-1, 0, 1)[i % 3]}) for i in range(600)]
    train_part, dev = split_dev(records, 0.1, seed=0, grouped=True)
    keys = {duplicate_key(r.text) for r in dev}
    assert keys.isdisjoint(duplicate_key(r.text) for r in train_part)
    assert 0.05 < len(dev) / len(records) < 0.15


def test_balanced_class_weights_and_smoothing():
    loss = build_loss(TrainConfig(class_weights="balanced", label_smoothing=0.1), [0, 1, 1, 1, 1, 2], SENTIMENT)
    torch.testing.assert_close(loss.ce.weight, torch.tensor([2.0, 0.5, 2.0]))
    assert loss.ce.label_smoothing == 0.1
    assert build_loss(TrainConfig(), [0, 1], SENTIMENT).ce.weight is None
    with pytest.raises(SentinetError, match="class_weights"):
        from_dict({"train": {"class_weights": "inverse"}}, ENCODER_OPTIONS)
    with pytest.raises(SentinetError, match=r"train.class_weights\[1\]: -2.0 must be > 0"):
        from_dict({"train": {"class_weights": [1, -2]}}, ENCODER_OPTIONS)
    with pytest.raises(SentinetError, match="2 weights for the 3 classes"):
        build_loss(TrainConfig(class_weights=[1.0, 2.0]), [0, 1], SENTIMENT)


@pytest.mark.parametrize("class_weights", ["none", "balanced"])
def test_tweet_weights_match_torch_mean_and_act_as_copies(class_weights):
    """Weight 1 everywhere is torch's mean reduction; weight 2 on a tweet is that tweet twice."""
    torch.manual_seed(0)
    logits, labels = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    cfg = TrainConfig(class_weights=class_weights, label_smoothing=0.1)
    loss = build_loss(cfg, labels.tolist(), SENTIMENT)
    reference = torch.nn.CrossEntropyLoss(weight=loss.ce.weight, label_smoothing=0.1)
    torch.testing.assert_close(loss(logits, labels), reference(logits, labels))
    torch.testing.assert_close(loss(logits, labels, torch.ones(5)), reference(logits, labels))
    weighted = loss(logits, labels, torch.tensor([2.0, 1, 1, 1, 1]))
    copies = torch.cat([logits[:1], logits]), torch.cat([labels[:1], labels])
    torch.testing.assert_close(weighted, reference(*copies))


def test_linear_schedule_warms_up_then_decays():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = Schedule(SchedulerConfig(name="linear", warmup=0.2), opt, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.after_batch()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:])) and lrs[-1] < 0.2


@pytest.mark.parametrize("total, warmup", [(10, 0.2), (57, 0.2), (100, 0.0), (7, 1.0), (1, 0.5)])
def test_linear_schedule_is_the_closed_form_ramp(total, warmup):
    """torch's LinearLR + SequentialLR give exactly what the formula says at every step:
    (s+1)/w during the warmup of w steps, then (T-s)/(T-w) down to 0."""
    w = max(1, int(warmup * total))
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    schedule = Schedule(SchedulerConfig(name="linear", warmup=warmup), opt, total_steps=total)
    for step in range(total):
        expected = 0.3 * min((step + 1) / w, max(0.0, (total - step) / max(1, total - w)))
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12, abs=1e-15), step
        opt.step()
        schedule.after_batch()


def test_linear_schedule_resumes_from_a_checkpoint_of_the_old_lambda_schedule():
    """last.pt files written before SequentialLR hold a LambdaLR state: resuming one goes on
    with the same learning rates."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = Schedule(SchedulerConfig(name="linear", warmup=0.2), opt, total_steps=10)
    for _ in range(6):
        opt.step()
        schedule.after_batch()
    lr = opt.param_groups[0]["lr"]
    again = Schedule(SchedulerConfig(name="linear", warmup=0.2),
                     torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), total_steps=10)
    again.load_state_dict({"base_lrs": [1.0], "last_epoch": 6, "lr_lambdas": [None]})
    assert again.scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(lr)


def test_plateau_schedule_decays_on_a_flat_dev_score():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = Schedule(SchedulerConfig(name="plateau", patience=0, gamma=0.5), opt, 10)
    schedule.after_scoring(1, {"f_macro": 0.5})
    schedule.after_scoring(2, {"f_macro": 0.5})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)


def test_concat_vectors_pads_missing_words_with_zeros(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("2 2\nбанк 1 2\nхорошо 3 4\n", encoding="utf-8")
    b.write_text("1 3\nбанк 5 6 7\n", encoding="utf-8")
    store = ConcatVectors([open_vectors(a), open_vectors(b)])
    assert store.dim == 5 and "хорошо" in store and "нет" not in store
    np.testing.assert_array_equal(store.lookup(["банк", "хорошо"]), [[1, 2, 5, 6, 7], [3, 4, 0, 0, 0]])


def tiny_raw(tiny_data, **sections) -> dict:
    raw = yaml.safe_load(tiny_config_yaml(tiny_data, epochs=3))
    for key, value in sections.items():
        section, field = key.split("__")
        raw.setdefault(section, {})[field] = value
    return raw


def test_frozen_vectors_stay_frozen_and_unfreezing_moves_them(tiny_data):
    frozen = train(from_dict(tiny_raw(tiny_data), ENCODER_OPTIONS))
    thawed = train(from_dict(tiny_raw(tiny_data, vectors__unfreeze_epoch=2, vectors__unfreeze_lr=0.05), ENCODER_OPTIONS))
    source = open_vectors(tiny_data["vectors"])
    for result, should_move in ((frozen, False), (thawed, True)):
        state = load_weights(result.run_dir / "model.pt")
        vocab = json.loads((result.run_dir / "vocab.json").read_text(encoding="utf-8"))
        words = vocab["words"][vocab["n_learned"]:]
        original = torch.from_numpy(source.lookup(words))
        moved = not torch.allclose(state["embedder.pretrained.weight"], original)
        assert moved == should_move


def test_concat_training_and_word_dropout(tiny_data):
    extra = tiny_data["dir"] / "extra.txt"
    write_word2vec_text(extra, ["сбербанк", "спасибо"], dim=4, seed=5)
    raw = tiny_raw(tiny_data, vectors__concat=[str(extra)], model__word_dropout=0.2)
    result = train(from_dict(raw, ENCODER_OPTIONS))
    predictor = Predictor.load(result.run_dir, torch.device("cpu"))
    assert predictor.members[0].run.model.embedder.dim == 20
    assert predictor.predict_proba(["кошмар втб"], progress=False).shape == (1, 3)


def test_ensemble_averages_members_and_loads_like_a_run(tiny_data):
    raw = tiny_raw(tiny_data, train__tune_decision=True)
    ens = train_ensemble(from_dict(raw, ENCODER_OPTIONS), seeds=2)
    assert (ens.path / "ensemble.json").is_file() and (ens.path / "decision.json").is_file()
    assert [m.run_dir for m in ens.members] == [ens.path / "seed3", ens.path / "seed4"]  # inside the group
    summary = json.loads((ens.path / "metrics.json").read_text())
    assert summary["seeds"] == [3, 4] and 0 <= summary["ensemble"]["f_macro"] <= 1
    ensemble = Predictor.load(ens.path, torch.device("cpu"))
    texts = ["сбербанк спасибо", "втб ужасно плохо"]
    singles = [Predictor.load(m.run_dir, torch.device("cpu")).predict_proba(texts, progress=False)
               for m in ens.members]
    np.testing.assert_allclose(ensemble.predict_proba(texts, progress=False), np.mean(singles, 0), rtol=1e-5)
    assert ensemble.bias == tuple(summary["decision_bias"])


def test_missing_vectors_file_warns_and_maps_unseen_words_to_unk(tiny_data, capsys):
    result = train(from_dict(tiny_raw(tiny_data), ENCODER_OPTIONS))
    texts = ["кошмар кошмар", "сбербанк спасибо"]  # "кошмар": only in the vectors file
    with_vectors = Predictor.load(result.run_dir, torch.device("cpu")).predict_proba(texts, progress=False)
    tiny_data["vectors"].rename(tiny_data["vectors"].with_suffix(".gone"))
    without = Predictor.load(result.run_dir, torch.device("cpu")).predict_proba(texts, progress=False)
    assert "warning: unseen words map to <unk>" in capsys.readouterr().err
    np.testing.assert_allclose(without[1], with_vectors[1], rtol=1e-5)  # known words unchanged
    assert not np.allclose(without[0], with_vectors[0])  # the unseen word lost its vector
