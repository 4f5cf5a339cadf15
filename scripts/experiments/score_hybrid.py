"""The hybrid protocol table: network alone, linear baseline alone, their blend at 0.5 and at
the network share chosen on dev, per run or fold, seeds side by side.

For each run directory given (a plain run, or a --folds/--seeds group whose members are
scored one by one), the parts' dev probabilities come from the run itself: a hybrid run
(train.hybrid: blend) recorded them in metrics.json; a run trained without one has its
network's dev_predictions.json, and the baseline is fitted here on exactly that member's
split (its config.yaml names the fold), once per split (seeds share it). Dev data only.

Two "chosen" rows, because a share chosen on the dev set it is scored on flatters itself:
  chosen (same dev)   the grid's best on the fold itself: what a hybrid run records
  chosen (other fold) the share the other temporal fold chose, scored here (2 folds only):
                      an honest estimate of choosing on dev

    python scripts/experiments/score_hybrid.py RUN_OR_GROUP... [--label NAME] [--md]

Groups sharing a --label prefix (the run name up to "-s<seed>") form one row set: mean ± std
over the seeds of the fold mean.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from sentinet.baseline import fit
from sentinet.evaluation.decision import decide
from sentinet.evaluation.metrics import scores
from sentinet.inference.hybrid import GRID, blend, choose_weight
from sentinet.labels import LabelSet
from sentinet.runs import rundir

ROWS = ("neural", "linear", "blend 0.5", "chosen (same dev)", "chosen (other fold)")
_fitted: dict[str, np.ndarray] = {}  # one baseline per split: seeds share their folds


def member_dirs(path: Path) -> list[Path]:
    if (path / rundir.ENSEMBLE).is_file():
        return [Path(p) for p in rundir.members(path)]
    return [path]


def linear_probs(member: Path) -> np.ndarray:
    """The baseline's dev probabilities on the member's split (fitted once per split)."""
    config = rundir.read_config(member / rundir.CONFIG)
    key = json.dumps([config.data.train, config.data.split, config.data.fold, config.data.folds,
                      config.data.val_fraction, config.data.split_seed, config.train.class_weights], default=str)
    if key not in _fitted:
        _fitted[key] = fit(config, progress=False).dev_probs
    return _fitted[key]


def parts(member: Path) -> dict:
    """Gold, classes, metric, and each part's dev probabilities (or a hybrid's recorded grid)."""
    metrics = rundir.read_metrics(member)
    config = rundir.read_config(member / rundir.CONFIG)
    gold, probs = rundir.load_dev_predictions(member)
    classes = LabelSet.of(metrics["labels"])
    if "hybrid" in metrics:
        raise SystemExit(f"{member}: a hybrid run: its parts' probabilities are not kept apart; "
                         "score the grid from its metrics.json")
    return {"gold": gold, "classes": classes, "metric": config.train.metric,
            "neural": np.asarray(probs), "linear": linear_probs(member)}


def score(p: dict, probs: np.ndarray) -> float:
    return scores(p["gold"], decide(probs, p["classes"]), p["classes"], p["metric"])["score"]


def score_group(path: Path) -> dict[str, float]:
    """Each row's mean over the group's members (folds)."""
    members = [parts(m) for m in member_dirs(path)]
    chosen = [choose_weight(p["neural"], p["linear"], p["gold"], p["classes"], p["metric"])[0] for p in members]
    rows: dict[str, list[float]] = defaultdict(list)
    for i, p in enumerate(members):
        rows["neural"].append(score(p, p["neural"]))
        rows["linear"].append(score(p, p["linear"]))
        rows["blend 0.5"].append(score(p, blend(p["neural"], p["linear"], 0.5)))
        rows["chosen (same dev)"].append(score(p, blend(p["neural"], p["linear"], chosen[i])))
        if len(members) == 2:
            rows["chosen (other fold)"].append(score(p, blend(p["neural"], p["linear"], chosen[1 - i])))
        for w in GRID:
            rows[f"share {w:g}"].append(score(p, blend(p["neural"], p["linear"], w)))
    result = {k: float(np.mean(v)) for k, v in rows.items()}
    result["chosen shares"] = chosen
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--md", action="store_true", help="a Markdown table")
    args = parser.parse_args()
    by_label: dict[str, list[dict]] = defaultdict(list)
    for run in args.runs:
        label = re.sub(r"-s\d+(-folds\d+|-ensemble\d+)?-\d{8}-\d{6}(-\d+)?$", "", run.name)
        result = score_group(run)
        print(f"{run.name}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "chosen shares")
              + f"; chosen shares {result['chosen shares']}", flush=True)
        by_label[label].append(result)
    keys = [*ROWS, *(f"share {w:g}" for w in GRID)]
    print()
    print("| config | seeds | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for label, results in by_label.items():
        cells = []
        for k in keys:
            values = [r[k] for r in results if k in r]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{np.mean(values):.3f} ± {sd:.3f}" if values else "—")
        print(f"| {label} | {len(results)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
