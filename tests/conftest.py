"""Shared fixtures: a tiny generated SentiRuEval-style corpus and tiny word vectors.

The corpus is built from sentiment-bearing words so a model can learn it in a few epochs,
which makes the CLI round trip a real (if small) check rather than a smoke test.
"""

from __future__ import annotations

import random
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest

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


@pytest.fixture
def tiny_data(tmp_path: Path) -> dict[str, Path]:
    """train.xml (150 tweets), test.xml (with a two-company tweet), vectors.txt, lines.txt."""
    return write_tiny_data(tmp_path)


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
