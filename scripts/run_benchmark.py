"""Train every given config with several seeds and print dev scores as mean ± std.

    python scripts/run_benchmark.py configs/banks_gru.yaml configs/tkk_gru.yaml --seeds 3
    python scripts/run_benchmark.py configs/*.yaml --seeds 3 --markdown results.md

Each run is an ordinary sentinet run directory (under --output-dir), so every number in the
table can be traced back to its train.log and metrics.json. Scores are on the dev split
carved from the training data; the official test sets are never touched.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from sentinet.config import load_config
from sentinet.errors import SentinetError
from sentinet.training import resolve_device, train


def machine() -> str:
    device = resolve_device("auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    return f"{platform.node()} ({name}, {torch.get_num_threads()} torch threads, torch {torch.__version__})"


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {std:.4f}"


def run(config_path: Path, seed: int, args: argparse.Namespace) -> dict:
    config = load_config(config_path, [*args.set, f"train.seed={seed}"])
    config.run.output_dir = str(args.output_dir)
    if args.device:
        config.train.device = args.device
    result = train(config)
    return {
        "config": str(config_path),
        "encoder": config.model.encoder.name,
        "seed": seed,
        "run_dir": str(result.run_dir),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.epochs),
        "f_macro": result.best["f_macro"],
        "f_micro": result.best["f_micro"],
        "seconds": result.seconds,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| config | encoder | seeds | dev F-macro | dev F-micro | train time (s) | best epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for config in dict.fromkeys(r["config"] for r in rows):
        group = [r for r in rows if r["config"] == config]
        lines.append(
            f"| {Path(config).stem} | {group[0]['encoder']} | {len(group)} "
            f"| {mean_std([r['f_macro'] for r in group])} | {mean_std([r['f_micro'] for r in group])} "
            f"| {statistics.mean(r['seconds'] for r in group):.0f} "
            f"| {', '.join(str(r['best_epoch']) for r in group)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N")
    parser.add_argument("--set", action="append", default=[], help="override for every run")
    parser.add_argument("--device", default=None)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/benchmark"))
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()

    rows, started = [], time.time()
    log = args.output_dir / f"benchmark-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        for config_path in args.configs:
            for seed in range(1, args.seeds + 1):
                rows.append(run(config_path, seed, args))
                with open(log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rows[-1]) + "\n")
    except SentinetError as exc:
        sys.exit(f"error: {exc}")
    text = (f"{table(rows)}\n\nMachine: {machine()}. Total {time.time() - started:.0f}s. "
            f"Runs: {log}\n")
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
