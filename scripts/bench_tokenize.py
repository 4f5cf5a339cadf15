"""Speed of ``sentinet predict``'s work around the model, single-threaded, in this process:
what must keep up once the model is fast.

    python scripts/bench_tokenize.py                   # 100,000 lines, best of 3
    python scripts/bench_tokenize.py --lines 200000 --repeats 5 --profile

Prints items per CPU second of this process (best of --repeats; each repeat starts from a fresh
tokenizer, whose cache fills up as it does in one predict run) for:
  read       the lines of a .txt file as predict reads them (streams.CountedLines →
             readers.stream_records → Record);
  tokenize   Tokenizer.__call__ on chunks of 4096 texts, as predict calls it, with the default
             TokenizerConfig and with configs/banks_gru.yaml's (the shipped configs set no
             tokenizer keys, so the two agree unless that changes), with every switch off, and
             with the default over the distinct tweets alone (no text seen twice, so the cache
             holds only the words and chunks that recur);
  encode     Vocab.encode of the tokens (a vocabulary of the words seen twice or more);
  write      prediction rows (3 classes' probabilities) through writers.write_predictions with the
             model taken out (canned probabilities), for csv, tsv, jsonl and csv --echo.
--profile adds cProfile's top functions of one tokenizing pass.

Texts are real tweets: the SentiRuEval-2016 training files in ../shared/data/sentirueval2016
(beside the checkout) read by sentinet's own reader, or data/examples/tweets.txt without them,
repeated to --lines. The machine may be shared: the load average is printed with the numbers.
Before/after: run it on both checkouts (or with the old modules swapped in) one after the other.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import itertools
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentinet.config.schema import TokenizerConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "sentirueval2016"
DATA_FILES = ("bank_train_2016.xml", "tkk_train_2016.xml")


def tweets(lines: int) -> tuple[list[str], str]:
    """``lines`` one-line tweets (inner line breaks become spaces, as a .txt input needs), and
    where they came from."""
    from sentinet.data.readers import read_records

    files = [SHARED / name for name in DATA_FILES]
    if all(f.is_file() for f in files):
        texts = [" ".join(r.text.split()) for f in files for r in read_records(f)]
        source = f"{', '.join(DATA_FILES)} ({SHARED})"
    else:
        example = ROOT / "data" / "examples" / "tweets.txt"
        texts = example.read_text(encoding="utf-8").splitlines()
        source = f"{example} (../shared is absent)"
    texts = [t for t in texts if t]
    return list(itertools.islice(itertools.cycle(texts), lines)), f"{len(set(texts))} distinct tweets from {source}"


def rate(items: int, run: Callable[[], object], repeats: int) -> float:
    """Items per CPU second of the fastest of ``repeats`` calls: this process's CPU time, which
    other processes on a shared machine disturb less than wall time (all of it is one thread).
    What is there before the call is frozen out of the garbage collector's way (predict streams
    its input; a list of 100,000 records would make every full collection slow)."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.freeze()
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
        gc.unfreeze()
    return items / best


def tokenizers() -> dict[str, TokenizerConfig]:
    from sentinet.config.schema import TokenizerConfig, load_config

    off = TokenizerConfig(lowercase=False, yo_to_e=False, urls="keep", users="keep", numbers="keep",
                          hashtags="keep", emoticons=False, emoji=False, squash_elongations=False,
                          retweets="keep")
    configs = {"default": TokenizerConfig()}
    try:
        configs["banks_gru.yaml"] = load_config(ROOT / "configs" / "banks_gru.yaml").tokenizer
    except Exception as exc:  # a benchmark reports, it does not stop: the default still counts
        print(f"configs/banks_gru.yaml not loaded ({exc}); its line is skipped", file=sys.stderr)
    configs["all off"] = off
    return configs


def bench_read(texts: list[str], repeats: int) -> float:
    from sentinet.data.readers import stream_records
    from sentinet.runtime import streams

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "tweets.txt"
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")

        def read() -> int:
            with streams.input_stream(str(path)) as stream:
                lines = streams.CountedLines(stream)
                return sum(1 for _ in stream_records(lines, "txt", str(path)))

        return rate(len(texts), read, repeats)


def bench_tokenize(texts: list[str], repeats: int, profile: bool) -> tuple[dict[str, float], list[list[str]]]:
    from sentinet.config.schema import TokenizerConfig
    from sentinet.data.tokenize import Tokenizer

    def run(config: TokenizerConfig, lines: list[str]) -> int:
        """As predict tokenises: one tokenizer per run, texts in chunks of 4096 (then let go)."""
        tokenizer, count = Tokenizer(config), 0
        for start in range(0, len(lines), 4096):
            count += sum(map(len, [tokenizer(t) for t in lines[start: start + 4096]]))
        return count

    rates, tokens = {}, []
    for name, config in tokenizers().items():
        rates[name] = rate(len(texts), lambda: run(config, texts), repeats)
    distinct = list(dict.fromkeys(texts))  # no tweet seen twice: what a stream of new tweets costs
    rates["default, distinct"] = rate(len(distinct), lambda: run(TokenizerConfig(), distinct), repeats)
    tokenizer = Tokenizer(tokenizers()["default"])
    if profile:
        profiler = cProfile.Profile()
        tokens = profiler.runcall(lambda: [tokenizer(t) for t in texts])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    else:
        tokens = [tokenizer(t) for t in texts]
    return rates, tokens


def bench_encode(tokens: list[list[str]], repeats: int) -> float:
    from sentinet.data.vocab import PAD, UNK, Vocab

    counts = Counter(t for ts in tokens[: len(tokens) // 2] for t in ts)
    vocab = Vocab([PAD, UNK, *(w for w, c in counts.items() if c >= 2)], n_learned=2)
    return rate(len(tokens), lambda: [vocab.encode(ts) for ts in tokens], repeats)


class CannedPredictor:
    """write_predictions' predictor with the model taken out: each chunk's probabilities are
    the next rows of a fixed table, its labels the most probable classes' values."""

    def __init__(self, probs: np.ndarray) -> None:
        from sentinet.labels import LabelSet

        self.classes, self.probs, self.done = LabelSet.of([-1, 0, 1]), probs, 0

    def predict_proba(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        self.done += len(texts)
        return self.probs[self.done - len(texts): self.done]

    def labels(self, probs: np.ndarray) -> list:
        return [self.classes.values[i] for i in probs.argmax(1)]


def bench_write(texts: list[str], repeats: int) -> dict[str, float]:
    """writers.write_predictions to a StringIO, as predict calls it (chunks of 4096)."""
    from sentinet.data.readers import Record
    from sentinet.inference.writers import RowFormat, write_predictions

    records = [Record(str(i), t) for i, t in enumerate(texts, 1)]
    probs = np.random.default_rng(0).dirichlet([1, 1, 1], len(texts)).astype(np.float32)
    rates = {}
    for name, row_format in {"csv": RowFormat("csv"), "tsv": RowFormat("tsv"), "jsonl": RowFormat("jsonl"),
                             "csv --echo": RowFormat("csv", echo=True)}.items():
        def write() -> int:
            return write_predictions(CannedPredictor(probs), iter(records), io.StringIO(), row_format,
                                     batch_size=256, chunk_size=4096)

        rates[name] = rate(len(texts), write, repeats)
    return rates


def show(what: str, rates: dict[str, float] | float, unit: str) -> None:
    rates = rates if isinstance(rates, dict) else {"": rates}
    for name, value in rates.items():
        print(f"{what:<9} {name:<15} {value:>12,.0f} {unit}/s")


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one tokenizing pass")
    args = parser.parse_args(argv)
    texts, source = tweets(args.lines)
    print(f"{args.lines:,} lines: {source}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    show("read", bench_read(texts, args.repeats), "lines")
    token_rates, tokens = bench_tokenize(texts, args.repeats, args.profile)
    show("tokenize", token_rates, "tweets")
    show("encode", bench_encode(tokens, args.repeats), "tweets")
    show("write", bench_write(texts, args.repeats), "rows")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
