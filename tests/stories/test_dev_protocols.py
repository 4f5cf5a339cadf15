"""Dev protocols that predict next year: temporal splits, k folds, several training files,
weight averaging — as functions and through the CLI on generated files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentinet.config.schema import from_dict, load_config, parse_date
from sentinet.data.readers import Record, read_records
from sentinet.data.splits import record_time
from sentinet.errors import SentinetError

from tests.helpers import run_cli
from tests.helpers import make_corpus, sentirueval_xml, tiny_config_yaml
from tests.helpers import assert_one_line_error

DAY = 86400
JAN, JUL = int(parse_date("2014-01-10", "")), int(parse_date("2014-07-10", ""))


# --------------------------------------------------------------------------------------
# Dates and temporal splits


def test_dates_are_read_from_every_format(tmp_path):
    xml = tmp_path / "a.xml"
    xml.write_text(sentirueval_xml(make_corpus(3, seed=0), dates=[JAN, JAN + 1, JUL]), encoding="utf-8")
    assert [r.date for r in read_records(xml)] == [str(JAN), str(JAN + 1), str(JUL)]
    tsv = tmp_path / "a.tsv"
    tsv.write_text("text\tlabel\twhen\nхорошо\t1\t2014-07-01\nплохо\t-1\t\n", encoding="utf-8")
    records = read_records(tsv, date_column="when")
    assert [r.date for r in records] == ["2014-07-01", None] and records[0].source == str(tsv)
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"text": "x", "label": 0, "date": 1404172800}\n', encoding="utf-8")
    assert record_time(read_records(jsonl)[0]) == parse_date("2014-07-01", "")


def test_parse_date_accepts_unix_and_iso_and_names_bad_values():
    assert parse_date("1404172800", "x") == parse_date("2014-07-01", "x") == parse_date(1404172800, "x")
    assert parse_date("2014-07-01T03:00:00+03:00", "x") == parse_date("2014-07-01", "x")
    with pytest.raises(SentinetError, match=r"f\.tsv: id '7': date: 'вчера' is neither unix time nor an ISO date"):
        record_time(Record("7", "x", {}, date="вчера", source="f.tsv"))
    with pytest.raises(SentinetError, match=r"f\.tsv: id '7': no date, but data.split is temporal"):
        record_time(Record("7", "x", {}, source="f.tsv"))


def test_config_checks_for_the_new_keys():
    assert from_dict({"data": {"split": "temporal", "dev_from": "2014-07-01"}}).data.dev_from == "2014-07-01"
    for raw, message in [
        ({"data": {"dev_from": "2014-07-01"}}, "data.dev_from needs data.split: temporal"),
        ({"data": {"split": "temporal", "dev_from": "July"}}, "data.dev_from: 'July' is neither"),
        ({"data": {"train": ["a", "b"], "train_weights": [1]}}, "data.train_weights"),
        ({"data": {"train_weights": [0]}}, "data.train_weights"),
        ({"data": {"folds": 1}}, "data.folds"),
        ({"data": {"folds": 3, "fold": 3}}, "data.fold"),
        ({"train": {"averaging": "mean"}}, "train.averaging"),
        ({"train": {"ema_decay": 1.0}}, "train.ema_decay"),
    ]:
        with pytest.raises(SentinetError, match=message):
            from_dict(raw)


def test_yaml_dates_and_train_lists_load(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  train: [a.xml, b.xml]\n  split: temporal\n  dev_from: 2014-07-01\n",
                    encoding="utf-8")
    config = load_config(path, None)
    assert config.data.train == ["a.xml", "b.xml"] and config.data.dev_from == "2014-07-01"


# --------------------------------------------------------------------------------------
# Weight averaging


# --------------------------------------------------------------------------------------
# Through the CLI


@pytest.fixture
def two_periods(tiny_data):
    """train.xml: 90 tweets in January, 90 in July; other.tsv: a second 'domain' spanning both."""
    rows = make_corpus(180, seed=5)
    dates = [JAN + i * 600 for i in range(90)] + [JUL + i * 600 for i in range(90)]
    tiny_data["train"].write_text(sentirueval_xml(rows, dates), encoding="utf-8")
    other = tiny_data["dir"] / "other.tsv"
    lines = ["text\tlabel\tdate"] + [f"{t}\t{list(lab.values())[0]}\t{d}"
                                      for (t, lab), d in zip(make_corpus(40, seed=6), [JAN] * 20 + [JUL] * 20)]
    other.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = tiny_data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(tiny_data, epochs=2), encoding="utf-8")
    return {**tiny_data, "other": other, "config": config}


def only_run(root: Path) -> Path:
    (run,) = [p for p in root.iterdir() if p.is_dir()]
    return run


def test_cli_temporal_split_with_a_second_weighted_file(two_periods):
    d = two_periods
    result = run_cli("train", "--config", str(d["config"]), "--set", "data.split=temporal",
                     "--set", "data.dev_from=2014-07-01",
                     "--set", f"data.train=[{d['train']},{d['other']}]", "--set", "data.train_weights=[1,0.5]")
    assert result.returncode == 0, result.stderr
    run = only_run(d["dir"] / "runs")
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "train 2014-01-10..2014-01-10 (90 tweets), dev 2014-07-10..2014-07-10 (90 tweets)" in log
    assert "20 from the dev period left out" in log
    data = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["data"]
    assert [(s["tweets"], s["weight"], s["dropped_in_dev_period"]) for s in data["train"]] == [(90, 1.0, 0), (20, 0.5, 20)]
    assert data["split"].startswith("temporal split, dev from 2014-07-01")


def test_cli_folds_write_an_ensemble_with_an_out_of_fold_score(two_periods):
    d = two_periods
    result = run_cli("train", "--config", str(d["config"]), "--folds", "3", "--set", "data.split=temporal")
    assert result.returncode == 0, result.stderr
    assert "over 3 folds" in result.stdout and "out-of-fold F-macro" in result.stdout
    (cv,) = [p for p in (d["dir"] / "runs").iterdir() if "folds3" in p.name]
    summary = json.loads((cv / "metrics.json").read_text(encoding="utf-8"))
    assert summary["folds"] == 3 and len(summary["members"]) == 3
    assert summary["ensemble"]["pairs"] == 180  # every labelled tweet scored once, out of fold
    periods = [json.loads((Path(m) / "metrics.json").read_text(encoding="utf-8"))["data"]["split"]
               for m in summary["members"]]
    assert [p.split(":")[0] for p in periods] == [f"fold {i}/3 (temporal)" for i in (1, 2, 3)]
    ev = run_cli("eval", str(cv), str(d["test"]), "--json")  # the fold models as one ensemble
    assert ev.returncode == 0, ev.stderr
    assert 0 <= json.loads(ev.stdout)["f_macro"] <= 1


def test_cli_folds_refuses_bad_combinations(two_periods):
    d = two_periods
    assert_one_line_error(run_cli("train", "--config", str(d["config"]), "--folds", "2", "--seeds", "2"),
                          "--folds and --seeds")
    assert_one_line_error(run_cli("train", "--config", str(d["config"]), "--folds", "1"), "at least 2 folds")
    assert_one_line_error(run_cli("train", "--config", str(d["config"]), "--set", "data.split=temporal",
                                  "--set", "data.date_column=when", "--set", f"data.train={d['other']}"),
                          "other.tsv", "no date")
    assert not (d["dir"] / "runs").exists()


@pytest.mark.parametrize("averaging", ["ema", "swa"])
def test_cli_averaged_checkpoint_is_what_dev_scored(two_periods, averaging):
    """The saved weights are the averaged ones: re-scoring dev from model.pt gives the logged best."""
    d = two_periods
    result = run_cli("train", "--config", str(d["config"]), "--set", f"train.averaging={averaging}",
                     "--set", "train.epochs=3", "--set", "train.swa_start=1", "--set", "train.ema_decay=0.9")
    assert result.returncode == 0, result.stderr
    run = only_run(d["dir"] / "runs")
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    best_row = metrics["epochs"][metrics["best_epoch"] - 1]
    assert metrics["best"]["f_macro"] == pytest.approx(best_row["f_macro"])  # dev re-scored from model.pt
