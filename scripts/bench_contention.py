"""Training speed on a shared CPU: one training alone against 2 and 4 at once, and against a
synthetic CPU hog, before and after sentinet's thread policy (sentinet/runtime/threads.py).

    python scripts/bench_contention.py                       # banks GRU, 2 epochs, 1/2/4 at once + 1 hog
    python scripts/bench_contention.py --counts 1,2 --hogs 0 --records 1500 --epochs 2
    python scripts/bench_contention.py --counts 1 --hogs 0 --modes after --tune-trials 8

Modes, side by side in one run (these machines are noisy):
  before  what sentinet did until issue 16: torch's default thread count (every core), fixed,
          and libgomp's default waiting (GOMP_SPINCOUNT=300000: ~0.3 M spins at every barrier)
  after   today's defaults: short spins (10,000) and train.num_threads null, so the thread
          governor gives torch the cores the other processes leave free, re-read every second

Each scenario starts its trainings together (different seeds, same config and data) and
reports the median seconds per epoch over their epochs, beside the fair share: on C cores,
N busy processes (trainings + hogs) should each take at most max(1, N / C) x the quiet epoch
(the mode's own 1-alone row). ratio = measured / fair; about 1 is fair, far above 1 a collapse.
With --tune-trials N, also ``sentinet tune`` throughput: N trials (one epoch each) with
--jobs 1, then with --jobs 2, in trials per hour (today's defaults only).
Data: the first --records tweets of the SentiRuEval banks training file (under
$SENTINET_DATA), written as a TSV so that an epoch stays short. Dev data only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOG = "while True: pass"
MODES = {
    "before": ({"GOMP_SPINCOUNT": "300000"}, True),  # env, fixed thread count
    "after": ({}, False),
}


def subset(records: int, out: Path) -> Path:
    """The first tweets of the banks file as a TSV (text, label): a real vocabulary and lengths."""
    from sentinet.config.paths import resolve_path
    from sentinet.data.readers import read_records

    banks = resolve_path("sentirueval2016/bank_train_2016.xml", "SENTINET_DATA")
    rows = [r for r in read_records(banks) if r.labels][:records]
    with out.open("w", encoding="utf-8") as f:
        f.write("text\tlabel\n")
        for r in rows:
            label = statistics.mode(r.labels.values())
            f.write(r.text.replace("\t", " ").replace("\n", " ") + f"\t{label}\n")
    return out


def train_cmd(args, data: Path, out: Path, seed: int, fixed_threads: bool) -> list[str]:
    cmd = [sys.executable, "-m", "sentinet", "train", "--config", str(args.config),
           "--set", f"data.train={data}", "--set", "data.format=tsv", "--set", "data.split=random",
           "--set", f"train.epochs={args.epochs}", "--set", f"train.patience={args.epochs}",
           "--set", f"train.seed={seed}", "--output-dir", str(out)]
    if fixed_threads:
        cmd += ["--set", f"train.num_threads={os.cpu_count()}"]
    return cmd


def epoch_seconds(out: Path) -> list[float]:
    return [row["seconds"] for m in out.glob("*/metrics.json")
            for row in json.loads(m.read_text(encoding="utf-8"))["epochs"]]


def scenario(args, data: Path, work: Path, mode: str, trainings: int, hogs: int) -> float:
    """Median seconds per epoch of ``trainings`` started together beside ``hogs`` busy loops."""
    extra_env, fixed = MODES[mode]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    env.update(extra_env)
    out = work / f"{mode}-{trainings}x-{hogs}hog"
    hog_procs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(hogs)]
    try:
        procs = [subprocess.Popen(train_cmd(args, data, out / str(i), i + 1, fixed), env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i in range(trainings)]
        for p in procs:
            _, err = p.communicate()
            if p.returncode:
                sys.exit(f"training failed ({mode}): {err.strip().splitlines()[-1:]}")
    finally:
        for h in hog_procs:
            h.kill()
            h.wait()
    return statistics.median(sum((epoch_seconds(d) for d in out.iterdir()), []))


SPACE = "model.encoder.hidden_size: {choice: [64, 128]}\ntrain.optimizer.lr: {choice: [0.001, 0.002]}\n"


def tune_rate(args, data: Path, work: Path, jobs: int) -> float:
    """Trials per hour of ``sentinet tune --jobs J`` over --tune-trials one-epoch trials."""
    space = work / "space.yaml"
    space.write_text(SPACE, encoding="utf-8")
    cmd = [sys.executable, "-m", "sentinet", "tune", "--config", str(args.config), "--space", str(space),
           "--trials", str(args.tune_trials), "--jobs", str(jobs), "--sampler", "random",
           "--study", f"jobs{jobs}", "--output-dir", str(work / "tune"),
           "--set", f"data.train={data}", "--set", "data.format=tsv", "--set", "data.split=random",
           "--set", "train.epochs=1"]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"tune --jobs {jobs} failed: {done.stderr.strip().splitlines()[-1:]}")
    return args.tune_trials / (time.monotonic() - started) * 3600


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=ROOT / "configs/banks_gru.yaml")
    p.add_argument("--records", type=int, default=3000, help="tweets to train on")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--counts", default="1,2,4", help="trainings at once")
    p.add_argument("--hogs", type=int, default=1, help="busy loops beside one training (0: skip)")
    p.add_argument("--modes", default="before,after")
    p.add_argument("--tune-trials", type=int, default=0, help="also tune throughput, --jobs 1 vs 2 (0: skip)")
    args = p.parse_args()
    cores = os.cpu_count() or 1
    counts = [int(c) for c in args.counts.split(",")]
    modes = args.modes.split(",")
    print(f"{cores} cores, load average {os.getloadavg()[0]:.2f}; {args.config.name}, {args.records} tweets, "
          f"{args.epochs} epoch(s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = subset(args.records, work / "tweets.tsv")
        rows = [(n, 0) for n in counts] + ([(1, args.hogs)] if args.hogs else [])
        results: dict[tuple[str, int, int], float] = {}
        for n, hogs in rows:  # modes interleaved: the same moment's noise hits both
            for mode in modes:
                started = time.monotonic()
                results[mode, n, hogs] = scenario(args, data, work, mode, n, hogs)
                print(f"  {mode:6} {n} training(s) + {hogs} hog(s): {results[mode, n, hogs]:.2f} s/epoch "
                      f"({time.monotonic() - started:.0f} s wall)", flush=True)
        tune = {jobs: tune_rate(args, data, work, jobs) for jobs in (1, 2)} if args.tune_trials else {}
    print("\n| scenario | " + " | ".join(f"{m}: s/epoch | {m}: ratio to fair" for m in modes) + " |")
    print("|---|" + "---|---|" * len(modes))
    for n, hogs in rows:
        cells = []
        for mode in modes:
            quiet = results.get((mode, 1, 0))
            fair = quiet * max(1.0, (n + hogs) / cores) if quiet else None
            value = results[mode, n, hogs]
            cells += [f"{value:.2f}", f"{value / fair:.2f}" if fair else "—"]
        name = f"{n} at once" + (f" + {hogs} CPU hog" + ("s" if hogs > 1 else "") if hogs else "")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if tune:
        print(f"\nsentinet tune, {args.tune_trials} one-epoch trials: --jobs 1 {tune[1]:.0f} trials/hour, "
              f"--jobs 2 {tune[2]:.0f} trials/hour ({tune[2] / tune[1]:.2f}x)")


if __name__ == "__main__":
    main()
