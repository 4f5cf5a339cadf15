"""Ensembles of several candidates (encoders, vectors, objectives) scored across dev folds.

Under one dev protocol (temporal folds by default), beside each candidate alone: for every
seed and fold, ``sentinet ensemble`` averages the fold models of the named candidates (runs of
scripts/experiments/score_candidates.py --protocols folds, one per candidate, same seed and
fold: the same dev records) and scores them on that fold's dev; the fold mean per seed is then
reported as mean ± std over seeds, beside each candidate's own, as score_candidates.py does.
With --protocol temporal or random, each seed's single runs are ensembled instead (one "fold"):

    python scripts/experiments/score_candidate_ensembles.py runs/benchmark banks_best banks_aux banks_ft --out runs/mixed
    python scripts/experiments/score_candidate_ensembles.py runs/benchmark banks_best banks_aux banks_ft --out runs/mixed-t --protocol temporal

Dev data only.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path


def fold_runs(root: Path, label: str, protocol: str = "folds") -> dict[int, list[Path]]:
    """seed → [fold0, fold1, ...] of one candidate's folds groups (or [its run] under the
    temporal or random protocol)."""
    found = {}
    if protocol != "folds":
        for run in sorted((root / label / protocol).glob(f"{label}-s*-*")):
            found[int(re.search(r"-s(\d+)-", run.name).group(1))] = [run]
        return found
    for group in sorted((root / label / "folds").glob(f"{label}-s*-folds*")):
        seed = int(re.search(r"-s(\d+)-folds", group.name).group(1))
        found[seed] = sorted(group.glob("fold*"), key=lambda p: int(p.name[4:]))
    return found


def f_macro(run: Path) -> float:
    return json.loads((run / "metrics.json").read_text(encoding="utf-8"))["best"]["f_macro"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="score_candidates.py's --output-dir")
    parser.add_argument("labels", nargs="+", help="candidates to ensemble (2 or more)")
    parser.add_argument("--out", type=Path, required=True, help="where the mixed ensembles go")
    parser.add_argument("--protocol", choices=["folds", "temporal", "random"], default="folds")
    args = parser.parse_args()
    runs = {label: fold_runs(args.root, label, args.protocol) for label in args.labels}
    seeds = sorted(set.intersection(*(set(r) for r in runs.values())))
    if not seeds:
        sys.exit("error: no seed was run for every candidate")
    rows: dict[str, list[float]] = {label: [] for label in args.labels} | {"mixed": []}
    for seed in seeds:
        folds = list(zip(*(runs[label][seed] for label in args.labels)))
        mixed = []
        for i, members in enumerate(folds):
            out = args.out / f"s{seed}" / f"fold{i}"
            if not (out / "metrics.json").is_file():
                done = subprocess.run([sys.executable, "-m", "sentinet", "ensemble", *map(str, members),
                                       "-o", str(out)], capture_output=True, text=True)
                if done.returncode:
                    sys.exit(done.stderr.strip())
            metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
            mixed.append(metrics["ensemble"]["f_macro"])
        rows["mixed"].append(statistics.mean(mixed))
        for label in args.labels:
            rows[label].append(statistics.mean(f_macro(run) for run in runs[label][seed]))
    what = "temporal folds, fold mean" if args.protocol == "folds" else f"{args.protocol} dev"
    print(f"{what} per seed, seeds {seeds}")
    print(f"| candidate | {'folds mean' if args.protocol == 'folds' else args.protocol + ' dev'} | per seed |")
    print("|---|---|---|")
    for label, values in rows.items():
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        name = "mixed (" + " + ".join(args.labels) + ")" if label == "mixed" else label
        print(f"| {name} | {statistics.mean(values):.3f} ± {std:.3f} | {' '.join(f'{v:.3f}' for v in values)} |")


if __name__ == "__main__":
    main()
