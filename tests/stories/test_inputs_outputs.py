"""Inputs and outputs as users meet them: raw tweet TSVs (stray quotes), a megabyte "tweet",
the token cap at train and predict time, TSV/CSV outputs read back, replacing outputs.

One run is trained (in a subprocess, like a user) on a TSV of quote-laden tweets that also
holds one 200,000-token tweet; the tests below check that run and predict with it.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from sentinet.data.readers import read_records
from sentinet.inference.opener import open_predictor

from tests.helpers import run_cli
from tests.helpers import FILLER, NAMES, NEGATIVE, NEUTRAL, POSITIVE, UNSEEN
from tests.helpers import make_corpus, write_word2vec_text

HUGE_TOKENS = 200_000


def quoted_tweets(n: int, seed: int) -> list[tuple[str, str, int]]:
    """(id, text, label) rows; every third text holds a stray or leading double quote."""
    rows = []
    for i, (text, labels) in enumerate(make_corpus(n, seed=seed)):
        text = [text, f'"{text}', f'{text} "цитата" конец'][i % 3]
        rows.append((f"t{seed}-{i}", text, next(iter(labels.values()))))
    return rows


def write_tsv(path: Path, rows: list[tuple[str, str, int]]) -> None:
    path.write_text("id\ttext\tlabel\n" + "".join(f"{i}\t{t}\t{y}\n" for i, t, y in rows),
                    encoding="utf-8")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("io")
    rows = quoted_tweets(150, seed=1)
    rows.append(("huge", " ".join(["сбербанк", "ужасно"] * (HUGE_TOKENS // 2)), -1))  # ~2.6 MB
    write_tsv(root / "train.tsv", rows)
    write_tsv(root / "dev.tsv", quoted_tweets(30, seed=2))
    write_word2vec_text(root / "vectors.txt", sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER,
                                                      *NAMES.values(), *UNSEEN}), dim=16)
    config = {
        "data": {"train": str(root / "train.tsv"), "dev": str(root / "dev.tsv")},
        "vectors": {"path": str(root / "vectors.txt"), "oov_min_count": 1},
        "model": {"encoder": {"name": "gru", "hidden_size": 16}},
        "train": {"epochs": 3, "patience": 3, "batch_size": 16, "optimizer": {"lr": 0.01},
                  "device": "cpu", "seed": 3},
        "run": {"output_dir": str(root / "runs"), "name": "io"},
    }
    (root / "io.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    # Without the cap, the huge tweet alone costs minutes per epoch on a 2-core machine.
    result = run_cli("train", "--config", str(root / "io.yaml"), timeout=150)
    assert result.returncode == 0, result.stderr
    (run,) = (root / "runs").iterdir()
    return {"root": root, "run": run, "log": result.stderr + result.stdout,
            "train_rows": len(rows)}


def test_raw_tweet_tsv_with_stray_quotes_trains_on_every_row(trained):
    assert f"data: {trained['train_rows']} training tweets, 30 dev tweets" in trained["log"]


def test_a_huge_tweet_is_cut_at_max_tokens(trained):
    """Uncapped, this training file stalled epoch 1 (the subprocess's timeout guards that)."""
    assert "data: 1 tweet(s) reached tokenizer.max_tokens (256)" in trained["log"]
    config = yaml.safe_load((trained["run"] / "config.yaml").read_text(encoding="utf-8"))
    assert config["tokenizer"]["max_tokens"] == 256  # saved: predict applies the run's own cap


def with_config(run: Path, target: Path, edit) -> Path:
    """A copy of ``run`` whose config.yaml is changed by ``edit(config_dict)``."""
    copy = Path(shutil.copytree(run, target))
    config = yaml.safe_load((copy / "config.yaml").read_text(encoding="utf-8"))
    edit(config)
    (copy / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return copy


def test_tokens_past_the_runs_cap_do_not_change_the_prediction(trained, tmp_path):
    short = "сбербанк спасибо отлично"
    long = short + " ужасно плохо ненавижу" * 300
    capped = with_config(trained["run"], tmp_path / "capped",
                         lambda c: c["tokenizer"].update(max_tokens=3))
    probs = open_predictor(capped, "cpu").predict_proba([short, long], 2, False)
    # the same tokens; only float rounding of their batch rows may differ
    assert probs[0] == pytest.approx(probs[1], abs=1e-6)
    # the same texts under the run's own cap (256) differ: the extra words are negative
    probs = open_predictor(trained["run"], "cpu").predict_proba([short, long], 2, False)
    assert abs(probs[0] - probs[1]).max() > 0.01


def test_a_run_saved_without_max_tokens_gets_the_default(trained, tmp_path):
    old = with_config(trained["run"], tmp_path / "old", lambda c: c["tokenizer"].pop("max_tokens"))
    lines = tmp_path / "lines.txt"
    head = " ".join(["спасибо"] * 256)
    lines.write_text(f"{head}\n{head}{' ужасно' * 50}\n", encoding="utf-8")
    result = run_cli("predict", str(old), str(lines), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    first, second = [row[1:] for row in csv.reader(result.stdout.splitlines()[1:])]
    assert first == second


@pytest.mark.parametrize("output_format", ["tsv", "csv"])
def test_echoed_output_reads_back_as_input(trained, tmp_path, output_format):
    """Texts with tabs, newlines and quotes: TSV has no quoting, so tabs and line breaks
    become spaces; CSV quotes them. Either way, predicting on the output gives the same
    labels and probabilities, and the ids and texts come back."""
    texts = ['"Сбербанк"\tопять\nзавис', 'втб "спасибо\r\nотлично', "альфабанк, офис;\tкурс"]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"a\tb{i}", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    first = tmp_path / f"first.{output_format}"
    again = tmp_path / f"again.{output_format}"
    result = run_cli("predict", str(trained["run"]), str(source), "--echo", "--format", output_format,
                     "-o", str(first), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    result = run_cli("predict", str(trained["run"]), str(first), "--format", output_format,
                     "-o", str(again), "--device", "cpu")
    assert result.returncode == 0, result.stderr

    read_back = read_records(first)
    if output_format == "tsv":
        expected = [(f"a b{i}", re.sub(r"[\t\r\n]", " ", t)) for i, t in enumerate(texts)]
    else:
        expected = [(f"a\tb{i}", t.replace("\r\n", "\n")) for i, t in enumerate(texts)]
    assert [(r.id, r.text) for r in read_back] == expected
    columns = ["id", "label", "p_negative", "p_neutral", "p_positive"]
    assert [r[:5] for r in table(first, output_format)] == [r[:5] for r in table(again, output_format)]
    assert table(first, output_format)[0][:5] == columns


def table(path: Path, output_format: str) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t" if output_format == "tsv" else ",",
                               quoting=csv.QUOTE_NONE if output_format == "tsv" else csv.QUOTE_MINIMAL))


def test_quoted_tsv_reads_with_quoting_option(trained, tmp_path):
    source = tmp_path / "quoted.tsv"
    source.write_text('id\ttext\nq1\t"сбербанк\tспасибо"\n', encoding="utf-8")
    result = run_cli("predict", str(trained["run"]), str(source), "--quoting", "quoted", "--echo",
                     "--device", "cpu")
    assert result.returncode == 0, result.stderr
    (row,) = list(csv.DictReader(result.stdout.splitlines()))
    assert (row["id"], row["text"]) == ("q1", "сбербанк\tспасибо")


def test_replacing_an_existing_output_says_so(trained, tmp_path):
    lines = tmp_path / "in.txt"
    lines.write_text("сбербанк спасибо\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    out.write_text("old predictions\n", encoding="utf-8")
    result = run_cli("predict", str(trained["run"]), str(lines), "-o", str(out), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert f"wrote 1 predictions to {out} (replaced the existing file)" in result.stderr
    assert out.read_text(encoding="utf-8").startswith("id,label,")
    result = run_cli("predict", str(trained["run"]), str(lines), "-o", str(tmp_path / "new.csv"), "--device", "cpu")
    assert "replaced" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "new.csv", "out.csv"]  # no temp files
