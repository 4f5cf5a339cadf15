"""fastText supervised on a SentiRuEval file, the yardstick the speed benchmarks print beside
sentinet (``pip install fasttext-wheel``; a benchmark dependency, not sentinet's)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

INSTALL = "pip install fasttext-wheel"


def write_training_file(data: Path, out: Path) -> Path:
    """One line per labelled tweet: its most common company label, its lowercased words."""
    from sentinet.data.readers import read_records

    with out.open("w", encoding="utf-8") as f:
        for r in read_records(data):
            if r.labels:
                label = statistics.mode(str(v) for v in r.labels.values())
                f.write(f"__label__{label} {' '.join(r.text.lower().split())}\n")
    return out


def train(data: Path, work: Path, epochs: int, threads: int):
    """(the model, training seconds), or None when fastText is not installed."""
    try:
        import fasttext
    except ImportError:
        return None
    path = write_training_file(data, work / "fasttext-train.txt")
    started = time.perf_counter()
    model = fasttext.train_supervised(str(path), epoch=epochs, wordNgrams=2, thread=threads, verbose=0)
    return model, time.perf_counter() - started
