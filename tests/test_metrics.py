import pytest

from sentinet.metrics import full_report, pairs, sentirueval_scores

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
    assert r["macro_f1_3class"] == pytest.approx((4 / 7) / 3)
    assert "negative" in r["report"]


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        pairs(GOLD, [1])
