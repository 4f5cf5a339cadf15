"""sentinet.evaluation.decision: argmax plus a per-class log bias, the bias search's tie rule
and grid, and how a bias is described in a log (tests/stories/test_training_options.py covers the search
finding a rare class, any class order, other label sets, and the fast F-macro vs sklearn)."""

from __future__ import annotations

import numpy as np
import pytest

from sentinet.evaluation.decision import _f_macro, decide, describe_bias, no_bias, tune_bias
from sentinet.labels import LabelSet

SENTIMENT = LabelSet((-1, 0, 1))
RARE_POSITIVE = np.array([[0.1, 0.6, 0.3]] * 5 + [[0.1, 0.8, 0.1]] * 5 + [[0.8, 0.1, 0.1]] * 5)
RARE_GOLD = [{"a": 1}] * 5 + [{"a": 0}] * 5 + [{"a": -1}] * 5


def test_no_bias_is_one_zero_per_class():
    assert no_bias(SENTIMENT) == (0.0, 0.0, 0.0)
    assert no_bias(LabelSet(("a", "b", "c", "d", "e"))) == (0.0,) * 5


def test_decide_survives_zero_probabilities():
    """log(0) would be -inf (and -inf + -inf arithmetic NaN): probabilities are clipped first."""
    probs = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert decide(probs, SENTIMENT) == [1, 0, -1]  # an all-zero row: the first class, as argmax does
    assert decide(probs, SENTIMENT, (0.0, 0.0, 0.5)) == [1, 0, 1]  # the bias alone decides it
    assert decide(np.empty((0, 3)), SENTIMENT) == []


def test_the_search_keeps_the_smallest_bias_that_scores_best():
    """Positive needs more than log 2 (0.69) to beat neutral at 0.3 vs 0.6: 0.7 on the 0.1 grid,
    and nothing on negative, though larger biases score as well."""
    bias, score = tune_bias(RARE_POSITIVE, RARE_GOLD, SENTIMENT)
    assert bias == (0.0, 0.0, 0.7) and score == pytest.approx(1.0)


def test_without_a_gain_the_rule_stays_argmax():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.7, 0.2], [0.1, 0.2, 0.7]])
    bias, score = tune_bias(probs, [{"a": -1}, {"b": 0}, {"c": 1}], SENTIMENT)
    assert bias == (0.0, 0.0, 0.0) and score == pytest.approx(1.0)


def test_the_search_stays_on_its_grid():
    bias, score = tune_bias(RARE_POSITIVE, RARE_GOLD, SENTIMENT, grid=np.array([0.0, 1.5]))
    assert bias == (0.0, 0.0, 1.5) and score == pytest.approx(1.0)
    # -2 on both scores what argmax scores (negatives stay negative, positives stay unseen):
    # a tie, so the bias stays zero, although zero is not on the grid
    tie = decide(RARE_POSITIVE, SENTIMENT, (-2.0, 0.0, -2.0))
    assert tie == decide(RARE_POSITIVE, SENTIMENT)
    bias, score = tune_bias(RARE_POSITIVE, RARE_GOLD, SENTIMENT, grid=np.array([-2.0]))
    assert bias == (0.0, 0.0, 0.0) and score == pytest.approx(0.5)


def test_every_company_of_a_tweet_counts():
    """A tweet naming two companies is scored twice: (tweet, company) pairs, not tweets."""
    probs = np.array([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]])
    gold = [{"a": 1, "b": 1, "c": 1}, {"a": -1}]
    bias, score = tune_bias(probs, gold, SENTIMENT)
    assert bias == (0.0, 0.0, 0.7) and score == pytest.approx(1.0)


def test_fast_f_macro_edge_cases():
    truth = np.array([0, 0, 2, 2])
    assert _f_macro(truth, np.array([0, 0, 0, 0])) == 0.0  # no -1/1 anywhere: 0 by sklearn's convention
    assert _f_macro(truth, np.array([0, 0, 2, 2]), negative=0, positive=2) == 1.0
    # class 0 all right (F1 1); class 2: one of two found, nothing wrong (F1 2/3)
    assert _f_macro(truth, np.array([0, 0, 2, 1]), negative=0, positive=2) == pytest.approx((1 + 2 / 3) / 2)


def test_describe_bias_names_only_the_non_zero_classes():
    assert describe_bias((0.3, 0.0, 0.8), SENTIMENT) == "negative +0.3, positive +0.8"
    assert describe_bias((-0.25, 0.0, 0.0), SENTIMENT) == "negative -0.2"  # one decimal, as logged
    assert describe_bias((0.0, 0.0, 0.0), SENTIMENT) == "none (argmax)"
    assert describe_bias((0.0, 1.0), LabelSet(("yes", "no"))) == "no +1.0"
