"""The linear part of a hybrid run (``train.hybrid: blend``), fitted when the network is done:
the TF-IDF baseline on exactly the run's training split (the records, weights and class
weights the network trained with), the network's share of the average chosen on the run's dev
records, and both written into the run directory (sentinet.inference.hybrid says how)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sentinet.evaluation.metrics import score_of, scores
from sentinet.evaluation.decision import decide
from sentinet.inference.hybrid import blend, choose_weight, write_hybrid
from sentinet.runs.log import RunLog
from sentinet.training.setup import Prepared


def fit_linear_part(prep: Prepared, run_dir: Path, neural: np.ndarray, gold: list[dict],
                    log: RunLog) -> tuple[np.ndarray, dict]:
    """Fit, choose and write the linear part; the hybrid's dev probabilities and what
    metrics.json records of its parts (each one's dev score, every share's)."""
    from sentinet.baseline import fit

    config, classes = prep.config, prep.data.labels
    metric = config.train.metric
    linear = fit(config, progress=False, data=prep.data)
    weight, grid = choose_weight(neural, linear.dev_probs, gold, classes, metric, config.train.hybrid_shares)
    write_hybrid(run_dir, linear.model, linear.C, list(classes.values), weight)
    neural_score = scores(gold, decide(neural, classes), classes, metric)["score"]
    summary = {"kind": "blend", "neural_weight": weight, "C": linear.C, "neural": neural_score,
               "linear": score_of(linear.report), "grid": grid}
    shares = ", ".join(f"{row['neural_weight']:g} {row['score']:.4f}" for row in grid)
    log(f"hybrid: dev neural {neural_score:.4f}, linear {summary['linear']:.4f} (C {linear.C:g}); "
        f"blend by the network's share {shares}; chosen {weight:g}")
    return blend(neural, linear.dev_probs, weight), summary
