"""What a hybrid's linear part costs at predict time: the same run with and without it, side
by side in one process (these machines are noisy: only the ratio means much).

    python scripts/bench_hybrid.py RUN [--lines 20000] [--repeats 5] [--threads 1]

RUN is a run trained with ``train.hybrid: blend``; the network alone is the same run copied
without its hybrid.json. Texts: the SentiRuEval training tweets under $SENTINET_DATA (or
--texts, one per line), repeated to --lines. Each repeat times ``predict_proba`` of every line
for both, alternating which goes first; the median texts/s of each and their ratio are printed
with the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def texts(path: Path | None, lines: int) -> list[str]:
    from sentinet.data.readers import read_records

    if path is not None:
        base = [t for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    else:
        data = Path(os.environ.get("SENTINET_DATA", "../shared/data")) / "sentirueval2016"
        base = [r.text for name in ("bank_train_2016.xml", "tkk_train_2016.xml")
                for r in read_records(str(data / name), "auto")]
    return (base * (lines // len(base) + 1))[:lines]


def timed(model, lines: list[str]) -> float:
    started = time.perf_counter()
    model.predict_proba(lines)
    return len(lines) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--texts", type=Path)
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import sentinet

    if not (args.run / "hybrid.json").is_file():
        raise SystemExit(f"{args.run}: not a hybrid run (no hybrid.json)")
    lines = texts(args.texts, args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        alone = Path(shutil.copytree(args.run, Path(tmp) / "network-alone"))
        (alone / "hybrid.json").unlink()
        models = {"hybrid": sentinet.load(args.run, device="cpu", threads=args.threads),
                  "network alone": sentinet.load(alone, device="cpu", threads=args.threads)}
        for model in models.values():
            model.predict_proba(lines[:2000])  # warm: unseen words looked up, caches filled
        speeds: dict[str, list[float]] = {name: [] for name in models}
        for i in range(args.repeats):
            order = list(models) if i % 2 == 0 else list(reversed(models))
            for name in order:
                speeds[name].append(timed(models[name], lines))
    median = {name: statistics.median(v) for name, v in speeds.items()}
    print(f"{len(lines)} texts, {args.repeats} repeats, {args.threads} thread(s), load average "
          f"{os.getloadavg()[0]:.2f}")
    for name, speed in median.items():
        print(f"  {name:14s} {speed:10,.0f} texts/s (runs: {', '.join(f'{s:,.0f}' for s in speeds[name])})")
    print(f"  hybrid / network alone: {median['hybrid'] / median['network alone']:.2f}x the speed "
          f"({median['network alone'] / median['hybrid']:.2f}x the time)")


if __name__ == "__main__":
    main()
