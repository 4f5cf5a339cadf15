"""What ``--int8`` costs in quality and buys in speed, on each run's own dev records.

    python scripts/bench_int8.py RUN [RUN ...] [--threads 2]

For every run the dev split is rebuilt from its config.yaml (the same records it was scored
on), then labelled by the float model and by the int8 one (sentinet/models/quantize.py):
dev F-macro of each, the share of labels that agree, the largest probability change, and
tweets/s of each (predict_proba, in this process, on the dev texts repeated to --texts).
Dev data only.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(run: Path, texts: int) -> str:
    import numpy as np

    from sentinet.runs import rundir
    from sentinet.data.training_data import load_training_data
    from sentinet.inference.opener import open_predictor
    from sentinet.evaluation.metrics import full_report

    dev = load_training_data(rundir.read_config(run / "config.yaml")).dev
    gold = [r.labels for r in dev]
    many = [r.text for r in itertools.islice(itertools.cycle(dev), texts)]
    row, predictors = {}, {}
    for name, int8 in (("float", False), ("int8", True)):
        predictor = predictors[name] = open_predictor(run, "cpu", int8=int8)
        probs = predictor.predict_proba([r.text for r in dev], progress=False)  # also a warm-up
        row[name] = [full_report(gold, predictor.labels(probs), predictor.classes)["f_macro"], probs,
                     predictor.labels(probs), []]
    for _ in range(3):  # interleaved: the same moment's noise hits both
        for name, predictor in predictors.items():
            started = time.perf_counter()
            predictor.predict_proba(many, progress=False)
            row[name][3].append(texts / (time.perf_counter() - started))
    for name in row:
        row[name][3] = statistics.median(row[name][3])
    (f_float, p_float, l_float, s_float), (f_int8, p_int8, l_int8, s_int8) = row["float"], row["int8"]
    agree = np.mean([a == b for a, b in zip(l_float, l_int8)])
    return (f"| {run.name} | {len(dev)} | {f_float:.4f} | {f_int8:.4f} | {f_int8 - f_float:+.4f} | {agree:.2%} | "
            f"{np.abs(p_float - p_int8).max():.4f} | {s_float:,.0f} | {s_int8:,.0f} | {s_int8 / s_float:.2f}x |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--texts", type=int, default=20_000, help="texts for the speed columns")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"CPU, {args.threads} threads")
    print("| run | dev tweets | F-macro float | F-macro int8 | change | labels agree | max abs(dp) | "
          "float tweets/s | int8 tweets/s | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in args.runs:
        print(measure(run, args.texts), flush=True)


if __name__ == "__main__":
    main()
