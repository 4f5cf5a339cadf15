"""What the tests share: running the CLI as a user does, checking its one-line errors, and
tiny generated data (a SentiRuEval-style corpus built from sentiment-bearing words, so a model
learns it in a few epochs, and word vectors in which those words point apart).

Fixtures live in conftest.py; everything here is plain functions and constants.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import socket
import tarfile
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

LAUNCHER = Path(__file__).resolve().parent / "fault_launcher.py"


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, stdin: str | None = None,
            timeout: float = 300, faults: bool = False, **popen) -> subprocess.CompletedProcess:
    """``sentinet ARGS`` in a subprocess, as a user runs it (``faults``: through
    tests/fault_launcher.py, which honours the SENTINET_TEST_* variables in ``env``)."""
    command = [sys.executable, str(LAUNCHER)] if faults else [sys.executable, "-m", "sentinet"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, input=stdin,
                          timeout=timeout, env={**os.environ, **(env or {})}, **popen)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, exactly one ``error:`` line on stderr containing every fragment, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing uses now, for a server a test starts. Picked below the
    kernel's ephemeral range, where connect() takes its client ports: a test beside this one
    that holds hundreds of client connections (the serve load and slowloris stories) could take
    a port the kernel handed out (bind to port 0) before the server binds it, never one of these."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    ports = range(10_000, low) if low >= 15_000 else range(high + 1, 65_536)
    pick = random.SystemRandom()  # not `random`'s seed, which a test may set alike in both workers
    for _ in range(100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port := pick.choice(ports)))
            except OSError:  # in use
                continue
            return port
    with socket.socket() as s:  # every port tried was taken: any free one
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (with its content) and folder under ``root``: compared before and after."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def without_times(metrics: dict) -> dict:
    """metrics.json minus what legitimately differs between two runs: timings and paths."""
    epochs = [{k: v for k, v in row.items() if k != "seconds"} for row in metrics["epochs"]]
    return {"epochs": epochs, "best": metrics["best"], "best_epoch": metrics["best_epoch"]}


# Dropout, word dropout, a per-step schedule and an EMA: every piece of state resume must carry.
STATEFUL = ["--set", "train.epochs=5", "--set", "train.patience=5", "--set", "model.word_dropout=0.1",
            "--set", "model.embedding_dropout=0.2", "--set", "train.scheduler.name=linear",
            "--set", "train.averaging=ema", "--set", "train.ema_decay=0.9"]


# --------------------------------------------------------------------------------------
# Tiny data


SHARED = Path(__file__).resolve().parents[2] / "shared"
COMPANIES = ("sberbank", "vtb", "alfabank")
NAMES = {"sberbank": "сбербанк", "vtb": "втб", "alfabank": "альфабанк"}
POSITIVE = ["спасибо", "отлично", "люблю", "быстро", "удобно", "круто"]
NEGATIVE = ["ужасно", "плохо", "ненавижу", "завис", "обман", "долго"]
NEUTRAL = ["открыл", "офис", "сегодня", "карта", "курс", "новости"]
FILLER = ["в", "и", "на", "опять", "мой", "это"]
UNSEEN = ["великолепно", "кошмар"]  # in the vectors, never in the training texts


def tweet_text(rng: random.Random, label: int, company: str) -> str:
    words = {1: POSITIVE, -1: NEGATIVE, 0: NEUTRAL}[label]
    parts = [NAMES[company], *rng.sample(words, 2), *rng.sample(FILLER, 2)]
    rng.shuffle(parts)
    return " ".join(parts)


def sentirueval_xml(rows: list[tuple[str, dict[str, int | None]]],
                    dates: list[int] | None = None) -> str:
    """A phpMyAdmin-style export: one <table> per tweet, NULL for unmentioned companies."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<pma_xml_export>", '<database name="x">']
    for i, (text, labels) in enumerate(rows, 1):
        date = dates[i - 1] if dates else 1400000000
        out.append('<table name="bank_train_2016">')
        out.append(f'<column name="id">{i}</column><column name="twitid">{1000 + i}</column>')
        out.append(f'<column name="date">{date}</column><column name="text">{escape(text)}</column>')
        for c in COMPANIES:
            value = labels.get(c)
            out.append(f'<column name="{c}">{"NULL" if value is None else value}</column>')
        out.append("</table>")
    out += ["</database>", "</pma_xml_export>"]
    return "\n".join(out)


def make_corpus(n: int, seed: int) -> list[tuple[str, dict[str, int | None]]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = (-1, 0, 1)[i % 3]
        company = COMPANIES[i % len(COMPANIES)]
        rows.append((tweet_text(rng, label, company), {company: label}))
    return rows


def write_word2vec_text(path: Path, words: list[str], dim: int, seed: int = 0) -> None:
    """word2vec text format; sentiment words point in opposite directions (learnable)."""
    rng = np.random.default_rng(seed)
    lines = [f"{len(words)} {dim}"]
    for w in words:
        v = rng.normal(0, 0.3, dim)
        if w in POSITIVE or w == "великолепно":
            v[0] += 2
        if w in NEGATIVE or w == "кошмар":
            v[1] += 2
        lines.append(w + " " + " ".join(f"{x:.5f}" for x in v))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_tiny_data(tmp_path: Path) -> dict[str, Path]:
    """The tiny_data files in ``tmp_path`` (for fixtures shared by a module)."""
    train = tmp_path / "train.xml"
    train.write_text(sentirueval_xml(make_corpus(150, seed=1)), encoding="utf-8")
    test_rows = make_corpus(30, seed=2)
    test_rows.append(("сбербанк и втб спасибо отлично", {"sberbank": 1, "vtb": 1}))
    test = tmp_path / "test.xml"
    test.write_text(sentirueval_xml(test_rows), encoding="utf-8")
    words = sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER, *NAMES.values(), *UNSEEN}
                   - {"втб"})  # втб stays out of the vectors: an OOV word to learn
    vectors = tmp_path / "vectors.txt"
    write_word2vec_text(vectors, words, dim=16)
    lines = tmp_path / "lines.txt"
    lines.write_text("сбербанк спасибо отлично\nвтб ужасно плохо\n\nкошмар\n", encoding="utf-8")
    return {"train": train, "test": test, "vectors": vectors, "lines": lines, "dir": tmp_path}


def tiny_project(root: Path) -> tuple[dict[str, Path], Path]:
    """The tiny data in ``root`` and tiny.yaml over it (for fixtures shared by a module)."""
    data = write_tiny_data(root)
    config = root / "tiny.yaml"
    config.write_text(tiny_config_yaml(data), encoding="utf-8")
    return data, config


def tiny_config_yaml(data: dict[str, Path], encoder: str = "gru", epochs: int = 2) -> str:
    return f"""
data:
  train: {data['train']}
  val_fraction: 0.2
vectors:
  path: {data['vectors']}
  oov: learn
  oov_min_count: 1
model:
  encoder:
    name: {encoder}
    hidden_size: 16
train:
  epochs: {epochs}
  batch_size: 16
  optimizer:
    lr: 0.01
  seed: 3
  device: cpu
run:
  output_dir: {data['dir'] / 'runs'}
"""

def write_navec(path: Path, words: list[str], indexes: np.ndarray, codes: np.ndarray) -> Path:
    """A navec tar in natasha's layout: meta.json, gzipped vocab.bin, pq.bin."""
    n = len(words)
    vocab = np.array([n], "<u4").tobytes() + np.ones(n, "<u4").tobytes()
    vocab += "\n".join(words).encode("utf-8")
    qdim, centroids, sub = codes.shape
    pq = np.array([n, qdim * sub, qdim, centroids], "<u4").tobytes()
    pq += indexes.astype(np.uint8).tobytes() + codes.astype("<f4").tobytes()
    members = {"meta.json": b'{"id": "tiny", "protocol": 1}', "vocab.bin": gzip.compress(vocab),
               "pq.bin": pq}  # fmt: skip
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path

def tiny_raw(tiny_data, **sections) -> dict:
    """tiny_config_yaml as a dict, with ``section__key=value`` changes."""
    import yaml

    raw = yaml.safe_load(tiny_config_yaml(tiny_data, epochs=3))
    for key, value in sections.items():
        section, field = key.split("__")
        raw.setdefault(section, {})[field] = value
    return raw


def study_files(tiny_data: dict[str, Path], space: str) -> dict:
    """A 1-epoch base config (a trial takes a second or two) and a search space in
    tiny_data's folder, and where a study of them goes (for tune's tests)."""
    base = tiny_data["dir"] / "base.yaml"
    base.write_text(tiny_config_yaml(tiny_data, epochs=1), encoding="utf-8")
    path = tiny_data["dir"] / "space.yaml"
    path.write_text(space, encoding="utf-8")
    out = tiny_data["dir"] / "studies"
    return {"base": base, "space": path, "out": out, "dir": out / "base",
            "storage": f"sqlite:///{out / 'base' / 'study.db'}"}
