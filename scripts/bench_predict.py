"""Speed of ``sentinet predict``: end to end against the model's raw forward pass, start-up,
and peak memory on a big input, all in one run so the numbers sit side by side.

    python scripts/bench_predict.py                        # trains a 1-epoch GRU and CNN first
    python scripts/bench_predict.py --runs runs/a runs/b   # existing run directories
    python scripts/bench_predict.py --lines 100000 --big-lines 1000000 --threads 2

For each run:
  (a) predict   ``sentinet predict RUN tweets.txt -o out.csv`` in a subprocess: wall time,
                tweets/s including start-up, and tweets/s after start-up (wall minus the
                1-line wall time);
  (b) forward   the same model's forward pass alone, in this process, on pre-tokenised,
                pre-encoded, length-sorted batches of --batch-size: what reading, tokenising,
                vocabulary and unseen-word lookup and writing add shows as the ratio (b)/(a);
  (c) start-up  predict on a 1-line file to stdout (median of --repeats): seconds until the
                prediction row arrives and until the process is gone, for a tweet with a word
                the run never saw (its vectors file is opened) and one of known words; beside
                the floor ``python -c 'import torch'`` measured in the same run, and the
                biggest imports of ``python -X importtime``;
  (d) memory    peak RSS of predict on --big-lines lines (and on --lines, for comparison): a
                streamed input keeps it flat.
  (e) stages    where predict's time goes, in this process on the same lines: reading,
                tokenising, unseen-word lookup (the vectors file), vocabulary lookup, sorting and
                padding, forward, writing the CSV;
  (f) --int8    predict end to end with dynamic int8 layers, its labels' agreement with the
                default and the largest probability change;
  (g) fastText  supervised fastText (``pip install fasttext-wheel``; skipped without it) trained
                on the same training file, predicting the same lines with all class
                probabilities (load + read + predict + write): the ratio sentinet / fastText.

Texts are real tweets (the SentiRuEval training files under $SENTINET_DATA, or --texts), repeated
to the wanted number of lines. The children get OMP_NUM_THREADS=--threads (torch's intra-op
threads) and the user's environment otherwise; the forward pass calls torch.set_num_threads
(--threads) with GOMP_SPINCOUNT=10000, as predict sets it. The machine may be shared: the load
average is printed beside the numbers; run it twice and trust numbers that agree.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONFIGS = {"gru": ROOT / "configs/banks_gru.yaml", "cnn": ROOT / "configs/banks_cnn.yaml"}
DATA_FILES = ("sentirueval2016/bank_train_2016.xml", "sentirueval2016/tkk_train_2016.xml")


USER_ENV = dict(os.environ)  # before main() tunes this process's own OpenMP


def child_env(threads: int) -> dict[str, str]:
    """The user's environment with the thread count: predict runs as it would for them."""
    env = dict(USER_ENV, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def timed(cmd: list[str], env: dict[str, str], stdout=subprocess.DEVNULL) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stderr) of one child; wait4 gives that child's own
    rusage, so earlier children never inflate the peak."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}\n{err[-2000:]}")
    return wall, usage.ru_maxrss // 1024, err


def predict_cmd(run: Path, lines: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "sentinet", "predict", str(run), str(lines), "-o", str(out),
            "--device", "cpu"]


# --------------------------------------------------------------------------------------
# Inputs


def tweets(files: list[Path]) -> list[str]:
    """One line per tweet (inner line breaks become spaces, as a txt input needs)."""
    from sentinet.data.readers import read_records

    texts = [" ".join(r.text.split()) for f in files for r in read_records(f)]
    return [t for t in texts if t]


def write_lines(path: Path, texts: list[str], n: int) -> Path:
    if not path.is_file() or sum(1 for _ in path.open(encoding="utf-8")) != n:
        with path.open("w", encoding="utf-8") as f:
            for text in itertools.islice(itertools.cycle(texts), n):
                f.write(text + "\n")
    return path


def train_runs(work: Path, threads: int) -> list[Path]:
    """A 1-epoch GRU and CNN run of the banks configs (speed does not depend on accuracy)."""
    runs = []
    for name, config in CONFIGS.items():
        out = work / "runs"
        cmd = [sys.executable, "-m", "sentinet", "train", "--config", str(config), "--output-dir",
               str(out), "--set", "train.epochs=1", "--set", f"run.name=bench-{name}", "--device", "cpu"]
        print(f"training {name}: {' '.join(cmd[1:])}", file=sys.stderr)
        subprocess.run(cmd, env=child_env(threads), check=True, stdout=subprocess.DEVNULL)
        runs.append(max(out.glob(f"bench-{name}-*")))
    return runs


# --------------------------------------------------------------------------------------
# Measurements


def forward_rate(run: Path, texts: list[str], batch_size: int, threads: int) -> float:
    """Tweets/s of the model alone: tokenising, encoding, sorting and padding happen before
    the clock starts."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    from sentinet.runs import weights
    from sentinet.data.tokenize import Tokenizer

    torch.set_num_threads(threads)
    loaded = weights.load_run(run, torch.device("cpu"))
    tokenizer = Tokenizer(loaded.config.tokenizer)
    ids = sorted((loaded.vocab.encode(tokenizer(t)) for t in texts), key=len)
    batches = []
    for i in range(0, len(ids), batch_size):
        chunk = [torch.tensor(x) for x in ids[i : i + batch_size]]
        batches.append((pad_sequence(chunk, batch_first=True), torch.tensor([len(x) for x in chunk])))
    model = loaded.model.eval()
    with torch.inference_mode():
        model(*batches[0])  # warm-up
        start = time.perf_counter()
        for batch, lengths in batches:
            torch.softmax(model(batch, lengths), dim=-1)
        return len(texts) / (time.perf_counter() - start)


def first_unseen(run: Path, texts: list[str], path: Path) -> Path:
    """A 1-line file holding the first tweet with a word the run's vocabulary lacks: predict
    must then open the run's vectors file, which a real input nearly always makes it do."""
    import json

    from sentinet.config.schema import load_config
    from sentinet.data.tokenize import Tokenizer

    tokenizer = Tokenizer(load_config(run / "config.yaml", None).tokenizer)
    known = set(json.loads((run / "vocab.json").read_text(encoding="utf-8"))["words"])
    text = next(t for t in texts if any(w not in known for w in tokenizer(t)))
    path.write_text(text + "\n", encoding="utf-8")
    return path


def first_row(run: Path, one: Path, env: dict) -> tuple[float, float]:
    """(seconds until the first prediction row is on stdout, seconds until the process is
    gone): what a pipe sees first, and the exit after it (interpreter teardown)."""
    cmd = [sys.executable, "-m", "sentinet", "predict", str(run), str(one), "--device", "cpu"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()  # the CSV header, written before any prediction
    row = proc.stdout.readline()
    first = time.perf_counter() - start
    proc.stdout.read()
    if proc.wait() != 0 or not row:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}")
    return first, time.perf_counter() - start


def startup(run: Path, one: Path, env: dict, repeats: int) -> tuple[float, float]:
    """Medians of ``first_row`` over ``repeats`` runs."""
    runs = [first_row(run, one, env) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def big_imports(run: Path, one: Path, work: Path, env: dict, top: int = 8) -> list[tuple[str, float]]:
    """The top-level modules predict imports, by cumulative import time (seconds)."""
    _, _, err = timed([sys.executable, "-X", "importtime", *predict_cmd(run, one, work / "one.csv")[1:]], env)
    found = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and not m.group(3):  # no indent: imported at the top level
            found.append((m.group(4), int(m.group(2)) / 1e6))
    return sorted(found, key=lambda x: -x[1])[:top]


def bench_run(run: Path, texts: list[str], inputs: dict[str, Path], args) -> None:
    """Measure one run, printing each number as soon as it is known."""
    env, work, n = child_env(args.threads), args.work, args.lines
    say(f"\n== {run}  ({args.threads} threads; load average {os.getloadavg()[0]:.1f})")
    unseen = first_unseen(run, texts, work / f"unseen-{run.name}.txt")
    first, start = startup(run, unseen, env, args.repeats)
    known_first, known = startup(run, inputs["one"], env, args.repeats)
    floor = statistics.median(timed([sys.executable, "-c", "import torch"], env)[0] for _ in range(args.repeats))
    say(f"(c) 1 line, first prediction on stdout after {first:.2f} s, process gone after {start:.2f} s "
        f"(a word the run never saw: its vectors file is opened);\n"
        f"    known words: {known_first:.2f} s / {known:.2f} s; floor `python -c 'import torch'` "
        f"{floor:.2f} s (process gone)")
    imports = big_imports(run, unseen, work, env)
    say("    biggest imports (cumulative s): " + ", ".join(f"{m} {s:.2f}" for m, s in imports))
    wall, rss, _ = timed(predict_cmd(run, inputs["lines"], work / f"out-{run.name}.csv"), env)
    e2e, steady = n / wall, n / max(wall - start, 1e-9)
    say(f"(a) predict {n:,} lines: {wall:.2f} s, {e2e:,.0f} tweets/s end to end, "
        f"{steady:,.0f} tweets/s after start-up")
    forward = forward_rate(run, texts[:n], args.batch_size, args.threads)
    say(f"(b) forward pass alone (batch {args.batch_size}): {forward:,.0f} tweets/s; forward / end to end "
        f"{forward / e2e:.1f}x, forward / after start-up {forward / steady:.1f}x")
    line = f"(d) peak RSS: {n:,} lines {rss} MB"
    if args.big_lines:
        wall, big_rss, _ = timed(predict_cmd(run, inputs["big"], work / "big.csv"), env)
        line += f"; {args.big_lines:,} lines {big_rss} MB ({wall:.1f} s, {args.big_lines / wall:,.0f} tweets/s)"
    say(line + f"   [load average now {os.getloadavg()[0]:.1f}]")
    spent = stages(run, inputs["lines"], args.batch_size, args.threads)
    total = sum(spent.values())
    say(f"(e) stages ({total:.2f} s in all): " + ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in spent.items()))
    say(int8_check(run, inputs["lines"], work, env, n))


def stages(run: Path, lines: Path, batch_size: int, threads: int) -> dict[str, float]:
    """Seconds per stage of what predict does, stage by stage over the whole input."""
    import csv
    import io

    import torch

    from sentinet.data.batching import BucketBatchSampler
    from sentinet.data.vocab import PAD_ID
    from sentinet.inference.opener import open_predictor

    torch.set_num_threads(threads)
    member = open_predictor(run, "cpu")  # a run: its RunPredictor
    clock, spent = time.perf_counter(), {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        spent[name], clock = now - clock, now

    texts = lines.read_text(encoding="utf-8").splitlines()
    lap("read")
    tokens = [member.tokenizer(t) for t in texts]
    lap("tokenise")
    member.add_unseen_words(tokens)
    lap("unseen words")
    ids = [member.run.vocab.encode(t) for t in tokens]
    lap("vocabulary")
    order = list(BucketBatchSampler([len(x) for x in ids], batch_size, shuffle=False))
    batches = []
    for index in order:
        rows = [ids[i] for i in index]
        width = len(rows[-1])
        batches.append((torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows]),
                        torch.tensor([len(r) for r in rows])))
    lap("sort + pad")
    model = member.run.model.eval()
    with torch.inference_mode():
        probs = torch.cat([torch.softmax(model(b, n), -1) for b, n in batches]).numpy()
    lap("forward")
    out = io.StringIO()
    writer = csv.writer(out)
    for i, p in enumerate(probs):
        writer.writerow([i, int(p.argmax()), *(round(float(x), 6) for x in p)])
    lap("write")
    return spent


def int8_check(run: Path, lines: Path, work: Path, env: dict, n: int) -> str:
    plain, fast = work / f"out-{run.name}.csv", work / f"int8-{run.name}.csv"
    wall, _, _ = timed(predict_cmd(run, lines, fast) + ["--int8"], env)
    a = plain.read_text(encoding="utf-8").splitlines()[1:]
    b = fast.read_text(encoding="utf-8").splitlines()[1:]
    agree = sum(x.split(",")[1] == y.split(",")[1] for x, y in zip(a, b)) / len(a)
    delta = max(abs(float(u) - float(v)) for x, y in zip(a, b)
                for u, v in zip(x.split(",")[2:], y.split(",")[2:]))
    return (f"(f) predict --int8: {wall:.2f} s, {n / wall:,.0f} tweets/s end to end; labels agree "
            f"{agree:.2%}, largest |Δp| {delta:.4f}")


def fasttext_rate(train_files: list[Path], lines: Path, work: Path, threads: int) -> str:
    """fastText supervised on the same tweets (one label per tweet: its most common company
    label), then load + read + predict every class's probability + write, timed."""
    import fasttext_baseline  # scripts/, beside this file

    fitted = fasttext_baseline.train(train_files[0], work, 5, threads)  # the banks file, as the runs train on
    if fitted is None:
        return f"(g) fastText: not installed ({fasttext_baseline.INSTALL}); skipped"
    model, trained = fitted
    import fasttext

    model.save_model(str(work / "fasttext.bin"))
    started = time.perf_counter()
    model = fasttext.load_model(str(work / "fasttext.bin"))
    texts = [" ".join(t.lower().split()) for t in lines.read_text(encoding="utf-8").splitlines()]
    labels, probs = model.predict(texts, k=-1)
    with (work / "fasttext-out.csv").open("w", encoding="utf-8") as f:
        for i, (ls, ps) in enumerate(zip(labels, probs)):
            f.write(f"{i},{ls[0][9:]}," + ",".join(f"{p:.6f}" for p in ps) + "\n")
    wall = time.perf_counter() - started
    return (f"(g) fastText ({threads} threads): trained in {trained:.1f} s; load + predict + write "
            f"{len(texts):,} lines {wall:.2f} s, {len(texts) / wall:,.0f} tweets/s")


def say(line: str) -> None:
    print(line, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="*", type=Path, help="Run directories (default: train a GRU and a CNN).")
    p.add_argument("--texts", nargs="*", type=Path, help="Data files of tweets (default: SentiRuEval train).")
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--big-lines", type=int, default=1_000_000, help="0: skip the memory test.")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256, help="For the forward pass (predict's default).")
    p.add_argument("--repeats", type=int, default=3, help="Start-up timings to take the median of.")
    p.add_argument("--work", type=Path, default=None, help="Where inputs, outputs and runs go (default: a temp dir).")
    args = p.parse_args()
    # The forward pass below runs with OpenMP tuned as predict tunes it (threads that spin a
    # little, then sleep: the default long spin collapses on a busy machine). Before torch loads.
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    args.work = args.work or Path(tempfile.mkdtemp(prefix="bench-predict-"))
    args.work.mkdir(parents=True, exist_ok=True)
    data = Path(os.environ.get("SENTINET_DATA", ROOT / "data"))
    texts = tweets(args.texts or [data / f for f in DATA_FILES])
    inputs = {"one": write_lines(args.work / "one.txt", texts, 1),
              "lines": write_lines(args.work / f"tweets-{args.lines}.txt", texts, args.lines)}
    if args.big_lines:
        inputs["big"] = write_lines(args.work / f"tweets-{args.big_lines}.txt", texts, args.big_lines)
    texts = list(itertools.islice(itertools.cycle(texts), args.lines))
    runs = args.runs or train_runs(args.work, args.threads)
    print(f"{len(set(texts)):,} distinct tweets repeated to {args.lines:,} lines; work dir {args.work}")
    for run in runs:
        bench_run(run, texts, inputs, args)
    say(fasttext_rate(args.texts or [data / f for f in DATA_FILES], inputs["lines"], args.work, args.threads))


if __name__ == "__main__":
    main()
