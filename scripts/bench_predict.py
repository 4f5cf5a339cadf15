"""Speed of ``sentinet predict`` beside fastText, all in one run so the numbers sit side by side:
every encoder, the shipped 5-member ensemble, its distilled student, an export archive.

    python scripts/bench_predict.py                        # trains the models first (1 epoch each)
    python scripts/bench_predict.py --runs runs/a runs/b   # existing run/ensemble dirs or archives
    python scripts/bench_predict.py --lines 100000 --big-lines 1000000 --threads 2 --detail

The table (one row per model, then fastText):
  e2e         ``sentinet predict MODEL tweets.txt -o out.csv`` in a subprocess: tweets/s including
              start-up, and after start-up (wall minus the 1-line wall time);
  before      the same with ``SENTINET_TABLES=0``: the model run as before the frozen-input
              tables (sentinet/models/tables.py), to show what they give; its largest
              probability difference from the default output is printed beside it;
  first row   seconds until the prediction row of a 1-line file (a word the run never saw:
              its vectors are opened) is on stdout (median of --repeats);
  RSS         peak RSS of the 100k-line predict; for the first model also on --big-lines lines.
Trained here: GRU, LSTM, CNN and SRU runs of the banks configs (1 epoch: speed does not depend
on accuracy), a ``--seeds 5`` GRU group (the shipped ensemble's shape) and ``sentinet distill``
of it (its dev score beside the ensemble's is in the student's metrics.json), and an export
archive of the GRU run.

With ``--detail``, for each model also:
  (b) forward   the model's forward pass alone, in this process, on pre-tokenised,
                pre-encoded, length-sorted batches of --batch-size, with and without tables;
  (c) imports   the biggest imports of ``python -X importtime``, and the floor
                ``python -c 'import torch'``;
  (e) stages    where predict's time goes, in this process: reading, tokenising, unseen-word
                lookup, vocabulary lookup, sorting and padding, forward, writing the CSV;
  (f) --int8    predict end to end with dynamic int8 layers, agreement with the default.
fastText: supervised fastText (``pip install fasttext-wheel``; skipped without it) trained on
the same training file, predicting the same lines with all class probabilities (load + read +
predict + write).

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
CONFIGS = {name: ROOT / f"configs/banks_{name}.yaml" for name in ("gru", "lstm", "cnn", "sru")}
ENSEMBLE_SEEDS = 5
DATA_FILES = ("sentirueval2016/bank_train_2016.xml", "sentirueval2016/tkk_train_2016.xml")


USER_ENV = dict(os.environ)  # before main() tunes this process's own OpenMP


def child_env(threads: int) -> dict[str, str]:
    """The user's environment with the thread count: predict runs as it would for them."""
    env = dict(USER_ENV, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# Runs the command in a grandchild and reports that one's peak RSS: Linux carries the forking
# process's high-water mark into a child's ru_maxrss across exec, so a child forked straight
# from this (big) process would report at least this process's size.
LAUNCH = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, st, ru = os.wait4(p.pid, 0); "
          "sys.stderr.write(f'\\nMAXRSS {ru.ru_maxrss}\\n'); sys.exit(os.waitstatus_to_exitcode(st))")


def timed(cmd: list[str], env: dict[str, str], stdout=subprocess.DEVNULL) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stderr) of one command, its RSS its own (LAUNCH)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCH, *cmd], env=env, stdout=stdout, stderr=subprocess.PIPE,
                          text=True)
    wall = time.perf_counter() - start
    err, _, rss = proc.stderr.rpartition("\nMAXRSS ")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}\n{err[-2000:]}")
    return wall, int(rss) // 1024, err


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
    """1-epoch runs of the banks configs, a --seeds group of the GRU and its distilled student,
    and an export archive of the GRU run (each reused when the work dir already has it)."""
    env, out = child_env(threads), work / "runs"
    runs = {}

    def sentinet(*args: str) -> None:
        print(f"sentinet {' '.join(args)}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "sentinet", *args], env=env, check=True, stdout=subprocess.DEVNULL)

    for name, config in CONFIGS.items():
        runs[name] = out / name
        if not (runs[name] / "model.pt").is_file():
            sentinet("train", "--config", str(config), "--run-dir", str(runs[name]), "--set", "train.epochs=1",
                     "--device", "cpu")
    runs["ensemble"] = out / "gru-seeds"
    if not (runs["ensemble"] / "ensemble.json").is_file():
        sentinet("train", "--config", str(CONFIGS["gru"]), "--run-dir", str(runs["ensemble"]), "--seeds",
                 str(ENSEMBLE_SEEDS), "--set", "train.epochs=1", "--device", "cpu")
    runs["student"] = out / "student"
    if not (runs["student"] / "model.pt").is_file():
        sentinet("distill", str(runs["ensemble"]), "-o", str(runs["student"]), "--set", "train.epochs=1",
                 "--device", "cpu")
    runs["archive"] = work / "gru.tar.gz"
    if not runs["archive"].is_file():
        sentinet("export", str(runs["gru"]), str(runs["archive"]))
    return list(runs.values())


# --------------------------------------------------------------------------------------
# Measurements


def forward_rate(run: Path, texts: list[str], batch_size: int, threads: int, tables: bool) -> float:
    """Tweets/s of the model alone, as predict runs it (``tables``: from the frozen-input
    tables) or the plain model: tokenising, encoding, sorting and padding happen before the
    clock starts."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    from sentinet.inference.opener import open_predictor

    torch.set_num_threads(threads)
    member = open_predictor(run, "cpu", threads=threads)
    tokens = [member.tokenizer(t) for t in texts]
    member.add_unseen_words(tokens)
    ids = sorted((member.run.vocab.encode(t) for t in tokens), key=len)
    batches = []
    for i in range(0, len(ids), batch_size):
        chunk = [torch.tensor(x) for x in ids[i : i + batch_size]]
        batches.append((pad_sequence(chunk, batch_first=True), torch.tensor([len(x) for x in chunk])))
    model = member.network() if tables else member.run.model.eval()
    with torch.inference_mode():
        for batch in batches:  # warm-up: the table covers every word before the clock starts
            model(*batch)
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

    if not is_run(run):  # an ensemble: its first member
        run = next(p.parent for p in sorted(run.rglob("model.pt")))
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


def is_run(path: Path) -> bool:
    return (path / "model.pt").is_file()


def measure(name: str, model: Path, inputs: dict[str, Path], unseen: Path, args) -> dict:
    """One row of the table: predict end to end now and as before the tables, start-up, RSS."""
    env, work, n = child_env(args.threads), args.work, args.lines
    out, old = work / f"out-{name}.csv", work / f"before-{name}.csv"
    first, gone = startup(model, unseen, env, args.repeats)
    wall, rss, _ = timed(predict_cmd(model, inputs["lines"], out), env)
    old_path = dict(env, SENTINET_TABLES="0", SENTINET_ENGINE="torch")
    before, _, _ = timed(predict_cmd(model, inputs["lines"], old), old_path)
    row = {"model": name, "e2e": n / wall, "steady": n / max(wall - gone, 1e-9), "before": n / before,
           "delta": largest_change(out, old), "first": first, "rss": rss, "load": os.getloadavg()[0]}
    say(f"{name}: {row['e2e']:,.0f} tweets/s end to end ({row['steady']:,.0f} after start-up), before the "
        f"tables {row['before']:,.0f}; largest |Δp| {row['delta']:.1e}; first row {first:.2f} s; "
        f"peak RSS {rss} MB   [load {row['load']:.1f}]")
    return row


def largest_change(a: Path, b: Path) -> float:
    """The largest probability difference between two predict CSVs of the same lines."""
    import csv

    with a.open(encoding="utf-8") as fa, b.open(encoding="utf-8") as fb:
        rows = zip(csv.reader(fa), csv.reader(fb))
        header = next(rows)[0]
        probs = [i for i, col in enumerate(header) if col.startswith("p_")]
        return max((abs(float(x[i]) - float(y[i])) for x, y in rows for i in probs), default=0.0)


def big_rss(model: Path, inputs: dict[str, Path], args) -> str:
    wall, rss, _ = timed(predict_cmd(model, inputs["big"], args.work / "big.csv"), child_env(args.threads))
    return f"peak RSS on {args.big_lines:,} lines: {rss} MB ({wall:.1f} s, {args.big_lines / wall:,.0f} tweets/s)"


def detail(run: Path, texts: list[str], inputs: dict[str, Path], unseen: Path, args) -> None:
    """The per-run breakdown (--detail): forward alone, imports, stages, int8."""
    env, work, n = child_env(args.threads), args.work, args.lines
    say(f"\n== {run}  ({args.threads} threads; load average {os.getloadavg()[0]:.1f})")
    floor = statistics.median(timed([sys.executable, "-c", "import torch"], env)[0] for _ in range(args.repeats))
    imports = big_imports(run, unseen, work, env)
    say(f"(c) floor `python -c 'import torch'` {floor:.2f} s; biggest imports (cumulative s): "
        + ", ".join(f"{m} {s:.2f}" for m, s in imports))
    if not is_run(run):
        return
    tabled, plain = (forward_rate(run, texts[:n], args.batch_size, args.threads, t) for t in (True, False))
    say(f"(b) forward pass alone (batch {args.batch_size}): {tabled:,.0f} tweets/s from the tables, "
        f"{plain:,.0f} without ({tabled / plain:.1f}x)")
    spent = stages(run, inputs["lines"], args.batch_size, args.threads)
    total = sum(spent.values())
    say(f"(e) stages ({total:.2f} s in all): "
        + ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in spent.items()))
    say(int8_check(run, inputs["lines"], work, env, n))


def table(rows: list[dict], fasttext: dict | None) -> str:
    head = ("| model | tweets/s end to end | after start-up | before the tables | largest abs Δp | "
            "first row (s) | peak RSS (MB) | fastText / this |")
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    ft = fasttext["rate"] if fasttext else None
    for r in rows:
        ratio = f"{ft / r['e2e']:.1f}x" if ft else "–"
        lines.append(f"| {r['model']} | {r['e2e']:,.0f} | {r['steady']:,.0f} | {r['before']:,.0f} | "
                     f"{r['delta']:.1e} | {r['first']:.2f} | {r['rss']} | {ratio} |")
    if fasttext:
        lines.append(f"| fastText | {ft:,.0f} | – | – | – | – | – | 1.0x |")
    return "\n".join(lines)


def scores(models: dict[str, Path]) -> str:
    """The distilled student's dev score beside its ensemble's (metrics.json of each)."""
    import json

    found = []
    for name in ("ensemble", "student"):
        path = models.get(name, Path("-")) / "metrics.json"
        if path.is_file():
            best = json.loads(path.read_text(encoding="utf-8")).get("best") or {}
            found.append(f"{name} dev {best.get('metric', 'score')} {best.get('score', float('nan')):.4f}")
    return "; ".join(found)


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
    model = member.network()
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
    plain, fast = work / f"float-{run.name}.csv", work / f"int8-{run.name}.csv"
    timed(predict_cmd(run, lines, plain), env)
    wall, _, _ = timed(predict_cmd(run, lines, fast) + ["--int8"], env)
    a = plain.read_text(encoding="utf-8").splitlines()[1:]
    b = fast.read_text(encoding="utf-8").splitlines()[1:]
    agree = sum(x.split(",")[1] == y.split(",")[1] for x, y in zip(a, b)) / len(a)
    delta = max(abs(float(u) - float(v)) for x, y in zip(a, b)
                for u, v in zip(x.split(",")[2:], y.split(",")[2:]))
    return (f"(f) predict --int8: {wall:.2f} s, {n / wall:,.0f} tweets/s end to end; labels agree "
            f"{agree:.2%}, largest |Δp| {delta:.4f}")


def fasttext_rate(train_files: list[Path], lines: Path, work: Path, threads: int) -> dict | None:
    """fastText supervised on the same tweets (one label per tweet: its most common company
    label), then load + read + predict every class's probability + write, timed."""
    import fasttext_baseline  # scripts/, beside this file

    fitted = fasttext_baseline.train(train_files[0], work, 5, threads)  # the banks file, as the runs train on
    if fitted is None:
        say(f"fastText: not installed ({fasttext_baseline.INSTALL}); skipped")
        return None
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
    say(f"fastText ({threads} threads): trained in {trained:.1f} s; load + predict + write "
        f"{len(texts):,} lines {wall:.2f} s, {len(texts) / wall:,.0f} tweets/s   [load {os.getloadavg()[0]:.1f}]")
    return {"rate": len(texts) / wall}


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
    p.add_argument("--work", type=Path, default=None, help="Where inputs, outputs and runs go (default: a temp "
                   "dir); models already trained there are reused.")
    p.add_argument("--detail", action="store_true", help="Also forward alone, imports, stages and --int8 per run.")
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
    paths = args.runs or train_runs(args.work, args.threads)
    names = [p.name.replace(".tar.gz", " (archive)") for p in paths]
    if not args.runs:
        names = [*CONFIGS, f"{ENSEMBLE_SEEDS}-member GRU ensemble", "distilled student", "GRU export archive"]
    models = dict(zip(names, paths))
    print(f"{len(set(texts)):,} distinct tweets repeated to {args.lines:,} lines; work dir {args.work}; "
          f"{args.threads} threads")
    unseen = first_unseen(paths[0], texts, args.work / "unseen.txt")
    fasttext = fasttext_rate(args.texts or [data / f for f in DATA_FILES], inputs["lines"], args.work, args.threads)
    rows = [measure(name, path, inputs, unseen, args) for name, path in models.items()]
    if not args.runs:
        say(scores({"ensemble": paths[4], "student": paths[5]}))
    if args.big_lines:
        say(f"{names[0]}: " + big_rss(paths[0], inputs, args))
    if args.detail:
        for path in paths:
            detail(path, texts, inputs, unseen, args)
    say("\n" + table(rows, fasttext))




if __name__ == "__main__":
    main()
