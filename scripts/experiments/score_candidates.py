"""Score fixed candidate configs under several dev protocols, seeds side by side.

`sentinet tune` searches; this answers the question a search cannot: how much does each dev
protocol's number move with the choice, and how much with the seed? Every candidate is
trained with seeds 1..N under each protocol:

  random    a stratified random 10% of the training file (tweets from the same weeks)
  temporal  train on the tweets before --dev-from, score on the tweets after it
  folds     --folds consecutive periods, each dev once (k-fold over time); fold mean and the
            out-of-fold score

    python scripts/experiments/score_candidates.py configs/best_banks.yaml --label banks_best --seeds 5 --jobs 2
    python scripts/experiments/score_candidates.py configs/best_banks.yaml --label banks_ema \
        --set train.averaging=ema --seeds 5 --jobs 2
    python scripts/experiments/score_candidates.py --from-runs runs/benchmark --results table.md

Every number comes from a run directory (metrics.json), grouped by --label (default: the
config's stem) and protocol: runs land in OUTPUT_DIR/<label>/<protocol>/. Dev data only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PROTOCOLS = ("random", "temporal", "folds")


def protocol_overrides(protocol: str, dev_from: str) -> list[str]:
    if protocol == "random":
        return ["data.split=random", "data.dev_from=null", "data.val_fraction=0.1"]
    if protocol == "temporal":
        return ["data.split=temporal", f"data.dev_from={dev_from}"]
    return ["data.split=temporal", "data.dev_from=null"]


def train_one(config_path: str, label: str, protocol: str, seed: int, overrides: list[str],
              dev_from: str, folds: int, output_dir: str, threads: int) -> str:
    """One candidate × protocol × seed, in its own process (so --jobs can run several)."""
    from sentinet.config.schema import load_config
    from sentinet.training.groups import cross_validate
    from sentinet.training.loop import train

    extra = [*protocol_overrides(protocol, dev_from), f"train.seed={seed}", f"train.num_threads={threads}"]
    config = load_config(config_path, [*overrides, *extra])
    config.run.output_dir = str(Path(output_dir) / label / protocol)
    config.run.name = f"{label}-s{seed}"
    if protocol == "folds":
        return str(cross_validate(config, folds).path)
    return str(train(config).run_dir)


def collect(dirs: list[Path]) -> dict[tuple[str, str], list[dict]]:
    """(label, protocol) → one row per seed: dev F-macro, and for folds the out-of-fold score."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for metrics_path in sorted(p for d in dirs for p in d.rglob("metrics.json")):
        run_dir = metrics_path.parent
        protocol, label = run_dir.parent.name, run_dir.parent.parent.name
        if protocol not in PROTOCOLS:
            continue
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        if not metrics.get("seconds"):
            continue  # still training (or interrupted before its summary)
        is_ensemble = (run_dir / "ensemble.json").exists()
        if protocol == "folds" and is_ensemble:
            row = {"f_macro": metrics["f_macro"]["mean"], "oof": metrics["ensemble"]["f_macro"],
                   "seconds": metrics["seconds"]}
        elif protocol != "folds" and not is_ensemble and metrics.get("best_epoch"):
            row = {"f_macro": metrics["best"]["f_macro"], "seconds": metrics["seconds"],
                   "machine": metrics.get("machine", "")}
        else:
            continue  # fold members are counted through their fold ensemble
        groups.setdefault((label, protocol), []).append(row)
    return groups


def mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {std:.3f} (n={len(values)})"


def table(groups: dict[tuple[str, str], list[dict]]) -> str:
    lines = ["| candidate | random dev | temporal dev | temporal folds: mean | folds: out-of-fold "
             "| train s (random / temporal / folds) |", "|---|---|---|---|---|---|"]
    for label in dict.fromkeys(label for label, _ in groups):
        g = {p: groups.get((label, p), []) for p in PROTOCOLS}
        seconds = " / ".join(f"{statistics.mean(r['seconds'] for r in g[p]):.0f}" if g[p] else "—"
                             for p in PROTOCOLS)
        lines.append(f"| {label} | {mean_std([r['f_macro'] for r in g['random']])} "
                     f"| {mean_std([r['f_macro'] for r in g['temporal']])} "
                     f"| {mean_std([r['f_macro'] for r in g['folds']])} "
                     f"| {mean_std([r['oof'] for r in g['folds']])} | {seconds} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", type=Path)
    parser.add_argument("--label", default=None, help="row name (default: the config's stem); one config only")
    parser.add_argument("--set", action="append", default=[], help="override for every run")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--dev-from", default="2014-07-01", help="temporal: dev starts here")
    parser.add_argument("--folds", type=int, default=2, help="folds: consecutive periods")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per run (default: CPU cores / jobs; lower it when "
                             "other work shares the machine, or runs thrash)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/benchmark"))
    parser.add_argument("--from-runs", type=Path, nargs="*", default=None,
                        help="only tabulate the runs under these directories")
    parser.add_argument("--results", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    if args.label and len(args.configs) > 1:
        parser.error("--label names one config's rows")

    started = time.time()
    if args.from_runs is None:
        if not args.configs:
            parser.error("give configs to train, or --from-runs DIR")
        threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
        protocols = args.protocols.split(",")
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        jobs = [(str(c), args.label or c.stem, p, s, args.set, args.dev_from, args.folds,
                 str(args.output_dir), threads) for s in seeds for c in args.configs for p in protocols]
        try:
            with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                for run_dir in pool.map(train_one, *zip(*jobs)):
                    print(f"finished {run_dir}", file=sys.stderr)
        except Exception as exc:  # SentinetError from a worker: one line, not a traceback
            sys.exit(f"error: {exc}")
    groups = collect(args.from_runs or [args.output_dir])
    text = table(groups) + f"\n\ntabulated in {time.time() - started:.0f}s.\n"
    print(text)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
