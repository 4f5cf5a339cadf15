"""Class prevalence (share of voice): what share of a new batch of texts is in each class.

"What share of this month's tweets about a bank are negative?" is not answered well by
counting the classifier's labels: a classifier's errors do not cancel out when the class
shares of the new data differ from those it was trained under. The posteriors lean towards
the training priors (a model trained with ``class_weights: balanced`` believes every class
is equally likely before it reads a word), so a month with 60 % negative tweets comes out
closer to a third each. Three estimators, from naive to corrected:

- ``count``: the share of predicted labels (classify and count). The caller passes the
  predicted class ids, so its own decision rule (argmax, tuned biases) is what is counted.
- ``average``: the mean posterior (probabilistic classify and count). Unbiased when the new
  data has the training priors and the model is calibrated; pulled towards the training
  priors otherwise.
- ``em``: Saerens, Latinne & Decaestecker (2002), "Adjusting the outputs of a classifier to
  new a priori probabilities: a simple procedure". Bayes' rule says a posterior under the
  training priors becomes one under new priors π by p'(y|x) ∝ p(y|x)·π(y)/π_train(y); the
  new priors are then the mean of those adjusted posteriors. Iterating the two steps from
  π = π_train is EM for the mixture weights, with the classifier's likelihood ratios fixed;
  it converges to the maximum-likelihood shares.

EM trusts the model's probabilities: an over-confident model makes its likelihood ratios too
large and EM overshoots. ``fit_temperature`` fits the scale on labelled dev data (temperature
scaling, Guo et al. 2017) and ``estimate(..., temperature=T)`` runs EM on the tempered
probabilities (``count`` and ``average`` stay what the model said). It is an option, off in
the CLI: it fixes over-confidence on synthetic posteriors, but on real SentiRuEval runs it made
EM worse (docs/GUIDE.md, Share of voice).

Conventions (numpy, float64, scipy for the temperature; nothing here imports torch, so a notebook can use it on
saved probabilities):

- A class with a training prior of 0 has an EM share of 0: the model never learned what
  its prior means, so there is nothing to rescale (its adjusted posterior is 0 too).
- A row whose adjusted posterior would be all zeros (all its probability on classes whose
  new prior is 0) keeps its unadjusted posterior instead of dividing by zero.
- Empty input (N = 0): ``estimate`` returns ``None`` for every share, ``em_iterations`` 0
  and ``em_converged`` False; ``em_priors`` raises, since it must return an array and no
  array would be an estimate; ``adjusted_posteriors`` returns an empty ``[0, C]`` array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sentinet.errors import SentinetError

ESTIMATORS = ("count", "average", "em")
_ROW_SUM_TOLERANCE = 1e-3  # float32 softmax rows sum to 1 within ~1e-6; logits are far off
_FLOOR = 1e-7  # saved probabilities are rounded to 6 digits, so a 0 there means "below 5e-7"


def estimate(probs, train_priors, predicted=None, temperature: float = 1.0) -> dict:
    """Each class's share in ``probs`` [N, C] by all three estimators.

    Returns ``{"count", "average", "em"}`` (lists of C floats summing to 1; ``count`` is
    None without ``predicted``, all three are None for N = 0) plus ``em_iterations`` and
    ``em_converged``. ``train_priors`` may be shares or class counts (they are normalised);
    EM reads the probabilities tempered by ``temperature`` (1: as they are).
    """
    p, prior = _checked(probs, train_priors)
    counts = None if predicted is None else _count(predicted, len(p), len(prior))
    if len(p) == 0:
        return {"count": None, "average": None, "em": None,
                "em_iterations": 0, "em_converged": False}  # fmt: skip
    shares, iterations, converged = em_priors(temper(p, temperature), prior)
    return {
        "count": counts,
        "average": _as_list(p.mean(axis=0)),
        "em": _as_list(shares),
        "em_iterations": iterations,
        "em_converged": converged,
    }


def em_priors(
    probs, train_priors, tol: float = 1e-6, max_iter: int = 1000
) -> tuple[np.ndarray, int, bool]:
    """The EM shares (Saerens et al. 2002), the updates made, and whether they converged.

    Stops when no share moves by ``tol`` or more in one update, or after ``max_iter``
    updates (then ``converged`` is False: the shares are the last iterate, still usable, but
    slow convergence means the data barely tells some classes apart). Raises for N = 0.
    """
    p, prior = _checked(probs, train_priors)
    if len(p) == 0:
        raise SentinetError("There are no rows of probabilities to estimate class shares from.")
    if not tol > 0:
        raise SentinetError(f"The EM tolerance must be positive, not {tol!r}.")
    if int(max_iter) != max_iter or max_iter < 1:
        raise SentinetError(f"The EM iteration limit must be a positive integer, not {max_iter!r}.")
    shares = prior
    for iteration in range(1, int(max_iter) + 1):
        updated = _adjusted(p, prior, shares).mean(axis=0)
        moved = float(np.max(np.abs(updated - shares)))
        shares = updated
        if moved < tol:
            return shares, iteration, True
    return shares, int(max_iter), False


def adjusted_posteriors(probs, train_priors, new_priors) -> np.ndarray:
    """Posteriors under ``new_priors``: p(y|x)·new(y)/train(y), renormalised per row.

    The model's evidence about each text (its likelihood ratios) is kept; only the belief
    about how common each class is before reading it changes. See the module docstring for
    zero priors and rows that would vanish.
    """
    p, prior = _checked(probs, train_priors)
    new = _priors(new_priors, len(prior), "new_priors")
    return _adjusted(p, prior, new)


def temper(probs, temperature: float) -> np.ndarray:
    """softmax(log p / T): T > 1 softens over-confident probabilities, T < 1 sharpens them."""
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature > 0):
        raise SentinetError(f"The temperature must be a positive number, not {temperature!r}.")
    p = np.asarray(probs, dtype=np.float64)
    if temperature == 1 or len(p) == 0:
        return p
    from scipy.special import softmax

    return softmax(np.log(np.clip(p, _FLOOR, None)) / temperature, axis=1)


def fit_temperature(probs, gold, train_priors) -> float:
    """The temperature that makes ``probs`` [N, C] best predict the ``gold`` class ids of
    labelled dev data (least negative log-likelihood).

    The posteriors are first moved from the training priors to the dev data's own class
    shares (Bayes' rule, as in EM), so that the temperature corrects only the scale of the
    model's evidence, not a prior it was trained to hold (``class_weights: balanced`` makes
    a model believe in uniform classes; a temperature must not undo that). The likelihood is
    convex in 1/T, so scipy's bounded scalar search on log T over [1/50, 50] finds the minimum.
    """
    p, prior = _checked(probs, train_priors)
    y = np.asarray(gold)
    if len(p) == 0 or y.shape != (len(p),) or not np.issubdtype(y.dtype, np.integer):
        raise SentinetError("Fitting a temperature needs one integer gold class id per row of probabilities.")
    if y.min() < 0 or y.max() >= len(prior):
        raise SentinetError(f"The gold class ids must be from 0 to {len(prior) - 1}.")
    dev_shares = np.bincount(y, minlength=len(prior)) / len(y)
    log_ratio = np.log(np.clip(np.divide(dev_shares, prior, out=np.zeros_like(prior), where=prior > 0), _FLOOR, None))
    log_p = np.log(np.clip(p, _FLOOR, None))

    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def loss(log_t: float) -> float:
        z = log_softmax(log_p / np.exp(log_t) + log_ratio, axis=1)
        return float(-np.mean(z[np.arange(len(y)), y]))

    bound = np.log(50.0)
    found = minimize_scalar(loss, bounds=(-bound, bound), method="bounded", options={"xatol": 1e-9})
    return float(np.exp(found.x))


def errors(shares: dict, true) -> dict:
    """Mean absolute error of each estimator's shares against the known ``true`` shares
    (``None`` for an estimator that gave none): how far off a reported share of voice is,
    in share points, averaged over the classes."""
    truth = np.asarray(true, dtype=np.float64)
    result: dict[str, float | None] = {}
    for name in ESTIMATORS:
        got = shares.get(name)
        if got is None:
            result[name] = None
            continue
        got = np.asarray(got, dtype=np.float64)
        if truth.shape != got.shape:
            raise SentinetError(
                f"The true shares have {truth.size} classes but the {name} shares have {got.size}."
            )
        result[name] = float(np.mean(np.abs(got - truth)))
    return result


def summary_table(names: Sequence[str], shares: dict, true_shares=None) -> str:
    """A plain-text table for a terminal: one row per class, a column per estimator, as
    percentages; with ``true_shares``, a ``true`` column and a last row of mean absolute
    errors (in percentage points). An estimator without shares shows ``-``."""
    names = [str(n) for n in names]
    labels = {"count": "count", "average": "average", "em": "EM"}
    columns = [(labels[key], shares.get(key)) for key in ESTIMATORS]
    if true_shares is not None:
        columns.append(("true", list(true_shares)))
    for label, values in columns:
        if values is not None and len(values) != len(names):
            raise SentinetError(
                f"The {label} column has {len(values)} shares for {len(names)} classes."
            )
    rows = [["class", *(label for label, _ in columns)]]
    for i, name in enumerate(names):
        rows.append([name, *("-" if v is None else f"{100 * v[i]:.1f}%" for _, v in columns)])
    if true_shares is not None:
        mae = errors(shares, true_shares)
        rows.append(["MAE", *("-" if mae[k] is None else f"{100 * mae[k]:.1f}" for k in mae)])
    widths = [max(len(row[j]) for row in rows if j < len(row)) for j in range(len(rows[0]))]
    lines = []
    for row in rows:  # the class names left-aligned, the numbers right-aligned
        cells = [row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:]))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Helpers


def _adjusted(p: np.ndarray, prior: np.ndarray, new: np.ndarray) -> np.ndarray:
    ratio = np.divide(new, prior, out=np.zeros_like(new), where=prior > 0)
    weighted = p * ratio
    total = weighted.sum(axis=1, keepdims=True)
    vanished = total[:, 0] <= 0
    if vanished.any():  # all of a row's mass on classes now at 0: keep what the model said
        weighted[vanished], total[vanished] = p[vanished], 1.0
    return weighted / total


def _count(predicted, n: int, classes: int) -> list[float] | None:
    labels = np.asarray(predicted)
    if labels.ndim != 1 or len(labels) != n:
        raise SentinetError(
            f"The predicted labels must be one per row of probabilities ({n}), "
            f"not shape {labels.shape}."
        )
    if n == 0:
        return None
    if not np.issubdtype(labels.dtype, np.integer):
        raise SentinetError("The predicted labels must be integer class ids.")
    if labels.min() < 0 or labels.max() >= classes:
        raise SentinetError(f"The predicted labels must be class ids from 0 to {classes - 1}.")
    return _as_list(np.bincount(labels, minlength=classes) / n)


def _checked(probs, train_priors) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities as float64 rows summing exactly to 1, and normalised training priors."""
    prior = _priors(train_priors, None, "train_priors")
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(prior):
        raise SentinetError(
            f"The probabilities must be a 2-D array with {len(prior)} columns (one per class), "
            f"not shape {p.shape}."
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise SentinetError(
            "The probabilities must be finite and non-negative (softmax outputs, not logits)."
        )
    sums = p.sum(axis=1)
    if np.any(np.abs(sums - 1) > _ROW_SUM_TOLERANCE):
        row = int(np.argmax(np.abs(sums - 1)))
        raise SentinetError(
            f"Each row of probabilities must sum to 1, but row {row} sums to {sums[row]:.4g}."
        )
    return p / sums[:, None], prior


def _priors(values, classes: int | None, name: str) -> np.ndarray:
    prior = np.asarray(values, dtype=np.float64)
    if prior.ndim != 1 or len(prior) == 0 or (classes is not None and len(prior) != classes):
        wanted = "a non-empty list" if classes is None else f"a list of {classes}"
        raise SentinetError(f"{name} must be {wanted} of class shares, not shape {prior.shape}.")
    if not np.all(np.isfinite(prior)) or np.any(prior < 0) or prior.sum() <= 0:
        raise SentinetError(f"{name} must be finite, non-negative and not all zero.")
    return prior / prior.sum()


def _as_list(shares: np.ndarray) -> list[float]:
    return [float(s) for s in shares]
