import pytest

from sentinet.labels import LabelSet
from sentinet.errors import SentinetError
from sentinet.evaluation.metrics import full_report, headline, pairs, score_of, sentirueval_scores

GOLD = [{"a": -1}, {"a": -1, "b": 0}, {"a": 1}, {"a": 0}]


def test_all_negative_hand_computed():
    # pairs (gold, pred): (-1,-1) (-1,-1) (0,-1) (1,-1) (0,-1)
    # negative: TP 2, FP 3, FN 0 -> P 2/5, R 1, F1 4/7 ; positive: TP 0 -> F1 0
    # micro over {-1, 1}: TP 2, FP 3, FN 1 -> P 2/5, R 2/3, F1 1/2
    s = sentirueval_scores(GOLD, [-1, -1, -1, -1])
    assert s["pairs"] == 5
    assert s["f_neg"] == pytest.approx(4 / 7)
    assert s["f_pos"] == 0
    assert s["f_macro"] == pytest.approx(2 / 7)
    assert s["f_micro"] == pytest.approx(0.5)


def test_prediction_applies_to_every_company():
    gold = [{"a": 1, "b": 1}, {"a": -1}, {"a": 0}]
    s = sentirueval_scores(gold, [1, 0, 1])
    # positive: TP 2 (one tweet, two companies), FP 1, FN 0 -> F1 = 4/5; negative: F1 0
    assert pairs(gold, [1, 0, 1]) == ([1, 1, -1, 0], [1, 1, 0, 1])
    assert s["f_pos"] == pytest.approx(0.8)
    assert s["f_macro"] == pytest.approx(0.4)
    # micro: TP 2, FP 1, FN 1 -> P 2/3, R 2/3
    assert s["f_micro"] == pytest.approx(2 / 3)


def test_perfect_and_all_neutral():
    assert sentirueval_scores(GOLD, [-1, -1, 1, 0])["f_micro"] < 1  # tweet 2 has a neutral company
    perfect = [{"a": -1}, {"a": 1}, {"a": 0}]
    assert sentirueval_scores(perfect, [-1, 1, 0])["f_macro"] == 1.0
    assert sentirueval_scores(perfect, [0, 0, 0])["f_macro"] == 0.0


def test_full_report_confusion_and_3class():
    r = full_report(GOLD, [-1, -1, -1, -1])
    assert r["confusion"] == [[2, 0, 0], [2, 0, 0], [1, 0, 0]]
    assert r["accuracy"] == pytest.approx(2 / 5)
    assert r["macro_f1"] == pytest.approx((4 / 7) / 3)
    assert "negative" in r["report"]


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        pairs(GOLD, [1])


# --------------------------------------------------------------------------------------
# Any label set


def test_label_set_order_and_sentiment_roles():
    assert LabelSet.from_data([1, -1, 0, 1]).values == (-1, 0, 1)
    assert LabelSet.from_data(["positive", "Negative", "neutral"]).values == ("Negative", "neutral", "positive")
    assert LabelSet.from_data(["skip", "speech", "positive", "negative", "neutral"]).values == (
        "negative", "neutral", "positive", "skip", "speech")
    assert LabelSet.from_data([0, "spam", 1]).values == (0, 1, "spam")  # numbers first
    assert LabelSet((-1, 0, 1)).sentiment == {-1: 0, 0: 1, 1: 2}
    assert LabelSet(("pos", "neg", "neu")).sentiment == {1: 0, -1: 1, 0: 2}
    assert LabelSet(("negative", "neutral", "positive", "skip")).sentiment is None
    assert LabelSet((0, 1)).sentiment is None and LabelSet((-1, 1)).sentiment is None
    assert LabelSet((-1, 0, 1)).names == ("negative", "neutral", "positive")
    assert LabelSet((0, 1)).names == ("0", "1")
    assert LabelSet.of([]).values == (-1, 0, 1)  # a run from before label sets
    assert LabelSet.of(["1", " a ", 2.0]).values == (1, "a", 2)


@pytest.mark.parametrize("found, message", [
    ([1, 1, 1], "holds 1 distinct label"),
    ([], "holds 0 distinct label"),
])
def test_label_set_needs_two_classes(found, message):
    with pytest.raises(SentinetError, match=message):
        LabelSet.from_data(found)
    with pytest.raises(SentinetError, match="lists a label twice"):
        LabelSet.of(["a", "b", "a"])


def test_five_string_classes_hand_computed():
    gold = [{"label": g} for g in ["speech", "skip", "positive", "negative", "neutral", "speech"]]
    pred = ["speech", "speech", "positive", "neutral", "neutral", "skip"]
    labels = LabelSet.from_data(g["label"] for g in gold)
    r = full_report(gold, pred, labels)
    # per class (negative, neutral, positive, skip, speech):
    # negative 0 (FN 1); neutral TP1 FP1 → 2/3; positive 1; skip TP0 FP1 FN1 → 0; speech TP1 FP1 FN1 → 1/2
    assert r["metric"] == "macro_f1" and not {"f_pos", "f_macro", "f_micro"} & set(r)  # named as they are
    assert r["score"] == pytest.approx((0 + 2 / 3 + 1 + 0 + 0.5) / 5) == pytest.approx(r["macro_f1"])
    assert r["accuracy"] == pytest.approx(3 / 6)
    # weighted by support (1, 1, 1, 1, 2): (0 + 2/3 + 1 + 0 + 2 * 1/2) / 6
    assert r["weighted_f1"] == pytest.approx((2 / 3 + 1 + 1) / 6)
    assert r["f1_neutral"] == pytest.approx(2 / 3) and r["f1_speech"] == pytest.approx(0.5)
    assert r["classes"] == ["negative", "neutral", "positive", "skip", "speech"]
    assert r["confusion"][4] == [0, 0, 0, 1, 1]  # gold speech: once skip, once speech


def test_binary_and_mixed_numbers_and_text():
    gold, pred = [{"label": 1}, {"label": 0}, {"label": 0}, {"label": "spam"}], [1, 1, 0, "spam"]
    labels = LabelSet.from_data([0, 1, "spam"])
    r = full_report(gold, pred, labels)
    # 0: TP1 FN1 → 2/3; 1: TP1 FP1 → 2/3; spam: 1
    assert r["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3) == r["score"]
    binary = full_report(gold[:3], pred[:3], LabelSet((0, 1)))
    assert binary["macro_f1"] == pytest.approx(2 / 3) and binary["confusion"] == [[1, 1], [0, 1]]


def test_string_sentiment_labels_get_the_official_metric():
    words = {-1: "negative", 0: "neutral", 1: "positive"}
    official = full_report(GOLD, [-1, -1, -1, -1])
    spelled = full_report([{k: words[v] for k, v in g.items()} for g in GOLD], ["negative"] * 4,
                          LabelSet(("negative", "neutral", "positive")))
    assert spelled["metric"] == official["metric"] == "sentirueval"
    assert spelled["score"] == spelled["f_macro"]
    assert spelled["f_macro"] == pytest.approx(official["f_macro"]) == pytest.approx(2 / 7)


def test_mixed_sentiment_spellings_are_one_class_each():
    labels = LabelSet.from_data([1, "negative", "neu", 0, -1, "positive"])
    assert labels.values == (-1, 0, 1)
    assert labels.to_class("negative") == labels.to_class(-1) == 0 and "POS" in labels
    assert "speech" not in labels
    gold = [{"a": "negative"}, {"a": 1}, {"a": "neutral"}]
    assert full_report(gold, [-1, 1, 0], labels)["f_macro"] == 1.0


def test_train_metric_picks_the_selecting_score():
    """Hand-computed: gold a a a b, predicted a a b b. a: TP2 FN1 → 0.8; b: TP1 FP1 → 2/3."""
    gold, pred = [{"label": x} for x in "aaab"], list("aabb")
    labels = LabelSet(("a", "b"))
    values = {m: full_report(gold, pred, labels, m)["score"] for m in ("macro_f1", "weighted_f1", "accuracy")}
    assert values["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert values["weighted_f1"] == pytest.approx((3 * 0.8 + 2 / 3) / 4)
    assert values["accuracy"] == pytest.approx(3 / 4)
    with pytest.raises(SentinetError, match="train.metric: sentirueval scores -1/0/1"):
        full_report(gold, pred, labels, "sentirueval")


def test_headline_names_the_metric_used():
    gold, pred = [{"label": x} for x in "aaab"], list("aabb")
    r = full_report(gold, pred, LabelSet(("a", "b")), "weighted_f1")
    assert headline(r) == f"weighted-F1 {r['weighted_f1']:.4f}  macro-F1 {r['macro_f1']:.4f}"
    official = full_report(GOLD, [-1, -1, -1, -1])
    assert headline(official).startswith("F-macro 0.2857  F-micro")
    # a run written before train.metric: f_macro was the score, named by its labels' metric
    assert headline({"metric": "macro_f1", "f_macro": 0.5, "f_micro": 0.75}) == "macro-F1 0.5000  accuracy 0.7500"
    assert score_of({"metric": "sentirueval_f_macro", "f_macro": 0.5}) == 0.5


def test_confused_pairs_count_both_directions():
    gold = [{"label": x} for x in ["a", "a", "b", "b", "b", "c", "c"]]
    pred = ["b", "b", "a", "c", "b", "c", "a"]
    r = full_report(gold, pred, LabelSet(("a", "b", "c")))
    # a↔b: a→b 2, b→a 1 (3); a↔c: c→a 1; b↔c: b→c 1
    assert r["confused_pairs"][0] == ["a", "b", 2, 1]
    assert sorted(map(tuple, r["confused_pairs"][1:])) == [("a", "c", 0, 1), ("b", "c", 1, 0)]


def test_macro_f1_averages_the_classes_that_occur_as_sklearn_does_and_says_which_it_left_out() -> None:
    from sklearn.metrics import f1_score

    from sentinet.evaluation.metrics import all_scores, scores
    from sentinet.labels import LabelSet

    labels = LabelSet.of([-1, 0, 1])
    gold, pred = [{"x": 1}, {"x": 1}, {"x": 0}], [1, 1, 0]  # a perfect sample without negatives
    result = scores(gold, pred, labels, "macro_f1")
    assert result["macro_f1"] == 1.0 == result["accuracy"]  # not 0.667: no F1 for a class never seen
    assert result["macro_f1_left_out"] == ["negative"]
    assert all_scores(result).endswith("(macro-F1 leaves out negative: in neither gold nor predictions)")
    gold, pred = [{"x": 1}, {"x": 0}, {"x": 0}, {"x": 1}], [1, 0, 1, -1]  # a wrong negative: it counts
    result = scores(gold, pred, labels, "macro_f1")
    assert result["macro_f1"] == pytest.approx(f1_score([1, 0, 0, 1], [1, 0, 1, -1], average="macro"))
    assert "macro_f1_left_out" not in result
