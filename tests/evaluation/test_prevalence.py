"""Class-prevalence estimators on synthetic data whose true shares are known.

The "model" is the exact Bayes posterior of three overlapping 1-D Gaussian classes under the
training priors, so every error left is the estimator's (and the sample's), not the model's.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from sentinet.errors import SentinetError
from sentinet.evaluation.prevalence import (
    ESTIMATORS, adjusted_posteriors, em_priors, errors, estimate, fit_temperature, summary_table, temper,
)

MEANS = np.array([-2.0, 0.0, 2.0])  # unit variance: neighbouring classes overlap a lot
UNIFORM = [1 / 3, 1 / 3, 1 / 3]  # what class_weights: balanced trains under
SHIFTED = [0.6, 0.3, 0.1]  # this month's true shares, far from the training priors
NAMES = ["negative", "neutral", "positive"]


def bayes_posterior(x: np.ndarray, priors) -> np.ndarray:
    likelihood = np.exp(-0.5 * (x[:, None] - MEANS[None, :]) ** 2)
    joint = likelihood * np.asarray(priors)
    return joint / joint.sum(axis=1, keepdims=True)


def sample(shares, n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points and their classes; the truth is the sample's own class shares."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=shares)
    x = MEANS[y] + rng.standard_normal(n)
    return x, np.bincount(y, minlength=3) / n


def shares_of(x: np.ndarray, train_priors) -> dict:
    probs = bayes_posterior(x, train_priors)
    return estimate(probs, train_priors, predicted=probs.argmax(axis=1))


# --------------------------------------------------------------------------------------
# The estimators on known shares


@pytest.mark.parametrize("train_priors", [UNIFORM, [0.2, 0.3, 0.5]], ids=["balanced", "skewed"])
def test_em_recovers_shifted_shares_that_count_and_average_miss(train_priors):
    x, truth = sample(SHIFTED)
    shares = shares_of(x, train_priors)
    mae = errors(shares, truth)
    print(f"\nMAE, true {np.round(truth, 4).tolist()}, train {np.round(train_priors, 3).tolist()}:",
          ", ".join(f"{k} {v:.4f}" for k, v in mae.items()))
    print(summary_table(NAMES, shares, truth))
    assert shares["em_converged"] and shares["em_iterations"] < 100
    assert mae["em"] < 0.02
    assert mae["em"] < 0.5 * min(mae["count"], mae["average"])
    # Both naive estimators are pulled towards the training priors: the rare class is overcounted.
    assert shares["average"][2] > truth[2] + 0.03 and shares["count"][2] > truth[2] + 0.02
    for name in ESTIMATORS:
        assert sum(shares[name]) == pytest.approx(1.0)


@pytest.mark.parametrize("dev_shares", [UNIFORM, [0.5, 0.35, 0.15]], ids=["dev-uniform", "dev-skewed"])
def test_a_temperature_fitted_on_dev_undoes_overconfidence_and_rescues_em(dev_shares):
    """An over-confident model (posteriors cubed: temperature 1/3) makes EM overshoot; the
    temperature fitted on labelled dev data from the training period is ~3, whatever that
    dev data's own class shares, and EM on the tempered probabilities is accurate again."""
    def overconfident(x):
        return temper(bayes_posterior(x, UNIFORM), 1 / 3)

    rng = np.random.default_rng(1)
    y_dev = rng.choice(3, size=4000, p=dev_shares)
    t = fit_temperature(overconfident(MEANS[y_dev] + rng.standard_normal(4000)), y_dev, UNIFORM)
    assert t == pytest.approx(3.0, rel=0.1)
    x, truth = sample(SHIFTED)
    raw = errors(estimate(overconfident(x), UNIFORM), truth)["em"]
    fixed = errors(estimate(overconfident(x), UNIFORM, temperature=t), truth)["em"]
    print(f"\nfitted T {t:.3f}; EM MAE uncalibrated {raw:.4f}, calibrated {fixed:.4f}")
    assert fixed < 0.02 and raw > 2 * fixed


def test_a_calibrated_model_keeps_a_temperature_near_one():
    rng = np.random.default_rng(2)
    y = rng.choice(3, size=4000, p=UNIFORM)
    assert fit_temperature(bayes_posterior(MEANS[y] + rng.standard_normal(4000), UNIFORM), y, UNIFORM) == \
        pytest.approx(1.0, abs=0.08)
    probs = bayes_posterior(np.array([0.3, -1.0]), UNIFORM)
    np.testing.assert_allclose(temper(probs, 1.0), probs)
    np.testing.assert_allclose(temper(probs, 1e6), np.full((2, 3), 1 / 3), atol=1e-5)  # hot: uniform
    with pytest.raises(SentinetError, match="temperature must be a positive number"):
        temper(probs, 0)
    with pytest.raises(SentinetError, match="one integer gold class id per row"):
        fit_temperature(probs, [0], UNIFORM)


def test_em_does_not_depend_on_the_training_priors_the_posteriors_came_from():
    """Exact posteriors under any priors carry the same likelihood ratios; EM only uses those."""
    x, _ = sample(SHIFTED)
    balanced, skewed = shares_of(x, UNIFORM), shares_of(x, [0.2, 0.3, 0.5])
    assert balanced["em"] == pytest.approx(skewed["em"], abs=1e-5)
    assert balanced["average"] != pytest.approx(skewed["average"], abs=0.01)


def test_all_three_agree_with_the_truth_when_the_data_has_the_training_priors():
    train_priors = [0.5, 0.3, 0.2]
    x, truth = sample(train_priors)
    shares = shares_of(x, train_priors)
    assert np.max(np.abs(np.array(shares["average"]) - truth)) < 0.02
    assert np.max(np.abs(np.array(shares["em"]) - truth)) < 0.02
    # argmax favours the majority class a little even here
    assert np.max(np.abs(np.array(shares["count"]) - truth)) < 0.03


def test_separable_classes_give_the_truth_by_every_estimator():
    y = np.random.default_rng(1).choice(3, size=1000, p=SHIFTED)
    truth = np.bincount(y, minlength=3) / len(y)
    shares = estimate(np.eye(3)[y], UNIFORM, predicted=y)
    for name in ESTIMATORS:
        assert shares[name] == pytest.approx(truth.tolist(), abs=1e-12)
    assert shares["em_converged"] and shares["em_iterations"] <= 2
    assert errors(shares, truth) == pytest.approx(dict.fromkeys(ESTIMATORS, 0.0), abs=1e-12)


def test_em_shares_are_a_fixed_point_of_the_adjustment():
    x, _ = sample(SHIFTED, n=500)
    probs = bayes_posterior(x, UNIFORM)
    shares, _, converged = em_priors(probs, UNIFORM)
    assert converged
    readjusted = adjusted_posteriors(probs, UNIFORM, shares).mean(axis=0)
    assert readjusted == pytest.approx(shares, abs=1e-5)


def test_the_first_em_step_is_the_average_and_a_low_limit_is_not_converged():
    x, _ = sample(SHIFTED, n=500)
    probs = bayes_posterior(x, UNIFORM)
    shares, iterations, converged = em_priors(probs, UNIFORM, max_iter=1)
    assert (iterations, converged) == (1, False)
    assert shares == pytest.approx(probs.mean(axis=0), abs=1e-12)


def test_count_is_none_without_predicted_labels():
    shares = estimate(bayes_posterior(np.array([0.0, 1.0]), UNIFORM), UNIFORM)
    assert shares["count"] is None
    assert errors(shares, [0.5, 0.5, 0.0])["count"] is None


# --------------------------------------------------------------------------------------
# adjusted_posteriors by hand, and zeros


def test_adjusted_posteriors_by_hand():
    probs = [[0.5, 0.5], [0.8, 0.2]]
    # Row 1: (0.5·0.8/0.5, 0.5·0.2/0.5) = (0.8, 0.2). Row 2: (1.28, 0.08) / 1.36 = (16/17, 1/17).
    expected = [[0.8, 0.2], [16 / 17, 1 / 17]]
    adjusted = adjusted_posteriors(probs, [0.5, 0.5], [0.8, 0.2])
    assert adjusted == pytest.approx(np.array(expected), abs=1e-12)
    # Unchanged priors change nothing; class counts work as priors.
    unchanged = adjusted_posteriors(probs, [10, 10], [0.5, 0.5])
    assert unchanged == pytest.approx(np.array(probs), abs=1e-12)


def test_a_zero_training_prior_gives_a_zero_share_without_warnings():
    probs = np.array([[0.4, 0.4, 0.2], [0.7, 0.1, 0.2], [0.1, 0.9, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shares = estimate(probs, [0.5, 0.5, 0.0])
    assert shares["em"][2] == 0.0 and sum(shares["em"]) == pytest.approx(1.0)
    assert shares["average"][2] == pytest.approx(0.4 / 3)
    assert np.all(np.isfinite(shares["em"]))


def test_a_row_that_would_vanish_keeps_its_posterior():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adjusted = adjusted_posteriors([[0.0, 1.0], [0.5, 0.5]], [0.5, 0.5], [1.0, 0.0])
    assert adjusted == pytest.approx(np.array([[0.0, 1.0], [1.0, 0.0]]))


# --------------------------------------------------------------------------------------
# Empty input, validation, output


def test_empty_input():
    empty = np.zeros((0, 3))
    assert estimate(empty, UNIFORM, predicted=np.array([], dtype=int)) == {
        "count": None, "average": None, "em": None, "em_iterations": 0, "em_converged": False,
    }  # fmt: skip
    assert adjusted_posteriors(empty, UNIFORM, SHIFTED).shape == (0, 3)
    with pytest.raises(SentinetError, match="no rows"):
        em_priors(empty, UNIFORM)
    table = summary_table(NAMES, estimate(empty, UNIFORM))
    assert table.splitlines()[1].split() == ["negative", "-", "-", "-"]


@pytest.mark.parametrize(
    "probs, priors, predicted, message",
    [
        ([0.5, 0.5], [0.5, 0.5], None, "2-D array with 2 columns"),
        ([[0.5, 0.5]], [0.3, 0.3, 0.4], None, "2-D array with 3 columns"),
        ([[1.5, -0.5]], [0.5, 0.5], None, "non-negative"),
        ([[np.nan, 1.0]], [0.5, 0.5], None, "finite"),
        ([[2.0, 3.0]], [0.5, 0.5], None, "row 0 sums to 5"),
        ([[0.5, 0.5]], [[0.5, 0.5]], None, "train_priors must be a non-empty list"),
        ([[0.5, 0.5]], [0.0, 0.0], None, "not all zero"),
        ([[0.5, 0.5]], [-1.0, 2.0], None, "non-negative"),
        ([[0.5, 0.5]], [0.5, 0.5], [0, 1], r"one per row of probabilities \(1\)"),
        ([[0.5, 0.5]], [0.5, 0.5], [2], "from 0 to 1"),
        ([[0.5, 0.5]], [0.5, 0.5], [0.0], "integer class ids"),
    ],
)
def test_invalid_input_is_a_one_sentence_error(probs, priors, predicted, message):
    with pytest.raises(SentinetError, match=message) as caught:
        estimate(probs, priors, predicted=predicted)
    assert "\n" not in str(caught.value) and str(caught.value).endswith(".")


def test_invalid_em_settings_and_new_priors():
    with pytest.raises(SentinetError, match="tolerance"):
        em_priors([[0.5, 0.5]], [0.5, 0.5], tol=0)
    with pytest.raises(SentinetError, match="iteration limit"):
        em_priors([[0.5, 0.5]], [0.5, 0.5], max_iter=0)
    with pytest.raises(SentinetError, match="new_priors must be a list of 2"):
        adjusted_posteriors([[0.5, 0.5]], [0.5, 0.5], [1.0])
    with pytest.raises(SentinetError, match="true shares have 2 classes"):
        errors({"em": [0.2, 0.3, 0.5]}, [0.5, 0.5])


def test_summary_table_is_aligned():
    shares = {"count": [0.5, 0.25, 0.25], "average": [0.4, 0.35, 0.25], "em": [0.6, 0.3, 0.1]}
    table = summary_table(NAMES, shares, true_shares=[0.6, 0.3, 0.1])
    lines = table.splitlines()
    assert lines[0].split() == ["class", "count", "average", "EM", "true"]
    assert lines[1].split() == ["negative", "50.0%", "40.0%", "60.0%", "60.0%"]
    assert lines[-1].split() == ["MAE", "10.0", "13.3", "0.0"]
    assert len({len(line) for line in lines[:-1]}) == 1  # right-aligned columns end together
    with pytest.raises(SentinetError, match="3 shares for 2 classes"):
        summary_table(NAMES[:2], shares)


def test_importing_it_does_not_import_torch():
    code = "import sys, sentinet.evaluation.prevalence; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
