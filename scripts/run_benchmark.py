"""Train configs × seeds and tabulate dev scores (mean ± std) from the recorded runs.

    python scripts/run_benchmark.py configs/{banks,tkk}_{cnn,rnn,lstm,gru,sru}.yaml --seeds 3 \
        --results docs/RESULTS.md
    python scripts/run_benchmark.py configs/banks_gru.yaml --seeds 3 --label banks_gru+balanced \
        --set train.class_weights=balanced --jobs 4
    python scripts/run_benchmark.py --from-runs runs/benchmark --results docs/RESULTS.md

Every number comes from a run directory (metrics.json, config.yaml), so each row can be
traced to its train.log. Rows group runs by run.name (the config's stem, or --label).
Scores are on the dev split carved from the training data; the test sets are never used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml


def train_one(config_path: str, seed: int, overrides: list[str], label: str | None,
              output_dir: str) -> str:
    """One training run in its own process (so --jobs can run several side by side)."""
    from sentinet.config import load_config
    from sentinet.training import train

    config = load_config(config_path, [*overrides, f"train.seed={seed}"])
    config.run.output_dir = output_dir
    if label:
        config.run.name = label
    return str(train(config).run_dir)


def collect(dirs: list[Path]) -> list[dict]:
    """Every finished single run under ``dirs`` (ensemble directories are skipped)."""
    rows = []
    for metrics_path in sorted(p for d in dirs for p in d.rglob("metrics.json")):
        run_dir = metrics_path.parent
        if (run_dir / "ensemble.json").exists() or not (run_dir / "config.yaml").exists():
            continue
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        rows.append({
            "name": config["run"]["name"],
            "encoder": config["model"]["encoder"]["name"],
            "seed": config["train"]["seed"],
            "f_macro": metrics["best"]["f_macro"],
            "f_micro": metrics["best"]["f_micro"],
            "seconds": metrics["seconds"],
            "best_epoch": metrics["best_epoch"],
            "machine": metrics.get("machine", "unrecorded"),
            "dev": run_dir / "dev_predictions.json",
        })
    return rows


def ensemble_scores(group: list[dict]) -> tuple[str, str]:
    """Dev F-macro of the members' averaged probabilities: with argmax, and with a decision
    bias that is cross-fitted (tuned on one half of dev, scored on the other, both ways), so
    the gain from tuning is not measured on the data it was tuned on."""
    import numpy as np

    from sentinet.decision import decide, tune_bias
    from sentinet.metrics import sentirueval_scores

    if len(group) < 2 or not all(r["dev"].is_file() for r in group):
        return "—", "—"
    devs = [json.loads(r["dev"].read_text(encoding="utf-8")) for r in group]
    if any([d["id"] for d in dev] != [d["id"] for d in devs[0]] for dev in devs):
        return "different dev sets", "—"
    gold = [d["gold"] for d in devs[0]]
    probs = np.mean([[d["probs"] for d in dev] for dev in devs], axis=0)
    halves = np.random.default_rng(0).permutation(len(gold)) % 2
    labels = np.zeros(len(gold), dtype=int)
    for half in (0, 1):
        tune, apply = np.flatnonzero(halves != half), np.flatnonzero(halves == half)
        bias, _ = tune_bias(probs[tune], [gold[i] for i in tune])
        labels[apply] = decide(probs[apply], bias)
    plain = sentirueval_scores(gold, decide(probs))["f_macro"]
    crossfit = sentirueval_scores(gold, labels.tolist())["f_macro"]
    return f"{plain:.4f}", f"{crossfit:.4f}"


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {std:.4f}"


def table(rows: list[dict]) -> str:
    lines = [
        "| run name | encoder | seeds | dev F-macro | dev F-micro | ensemble F-macro "
        "| ensemble + bias (cross-fitted) | train time (s) | best epochs | machine |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["name"] for r in rows):
        group = [r for r in rows if r["name"] == name]
        machines = ", ".join(sorted({r["machine"] for r in group}))
        ensemble, crossfit = ensemble_scores(group)
        lines.append(
            f"| {name} | {group[0]['encoder']} | {len(group)} "
            f"| {mean_std([r['f_macro'] for r in group])} | {mean_std([r['f_micro'] for r in group])} "
            f"| {ensemble} | {crossfit} "
            f"| {statistics.mean(r['seconds'] for r in group):.0f} "
            f"| {', '.join(str(r['best_epoch']) for r in sorted(group, key=lambda r: r['seed']))} "
            f"| {machines} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", type=Path)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N")
    parser.add_argument("--set", action="append", default=[], help="override for every run")
    parser.add_argument("--label", default=None, help="run name for these runs (rows group by it)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/benchmark"))
    parser.add_argument("--from-runs", type=Path, nargs="*", default=None,
                        help="only tabulate the runs under these directories")
    parser.add_argument("--results", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()

    started = time.time()
    if args.from_runs is None:
        if not args.configs:
            parser.error("give configs to train, or --from-runs DIR")
        jobs = [(str(c), s, args.set, args.label, str(args.output_dir))
                for c in args.configs for s in range(1, args.seeds + 1)]
        try:
            with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                for run_dir in pool.map(train_one, *zip(*jobs)):
                    print(f"finished {run_dir}", file=sys.stderr)
        except Exception as exc:  # SentinetError from a worker: one line, not a traceback
            sys.exit(f"error: {exc}")
    rows = collect(args.from_runs or [args.output_dir])
    text = table(rows) + f"\n\n{len(rows)} runs; tabulated in {time.time() - started:.0f}s.\n"
    print(text)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
