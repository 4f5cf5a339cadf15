"""End to end through the CLI: train on a tiny generated corpus → eval → predict."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from sentinet.cli.main import app, main
from sentinet.config.schema import from_dict
from sentinet.data.readers import read_records
from sentinet.data.embeddings import open_vectors
from sentinet.inference.opener import open_predictor
from sentinet.training.loop import train

from tests.helpers import run_cli, tiny_config_yaml, write_tiny_data

runner = CliRunner()


def invoke(*args: str):
    """Run the CLI in-process the way `sentinet` does (main() maps SentinetError to exit 2)."""
    return runner.invoke(app, list(args), catch_exceptions=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """A run trained for eight epochs on tiny data, once for the module, with its data files."""
    tiny_data = write_tiny_data(tmp_path_factory.mktemp("cli"))
    config = tiny_data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(tiny_data, epochs=8), encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--set", "train.patience=8")
    assert result.returncode == 0, result.stderr
    runs = list((tiny_data["dir"] / "runs").iterdir())
    assert len(runs) == 1
    return runs[0], tiny_data


def test_train_eval_predict_round_trip(trained):
    trained_run, tiny_data = trained
    for name in ("config.yaml", "vocab.json", "model.pt", "metrics.json", "train.log"):
        assert (trained_run / name).is_file(), name
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert 1 <= len(metrics["epochs"]) <= 8 and metrics["best"]["f_macro"] > 0.9
    log = (trained_run / "train.log").read_text()
    assert "dev F-macro" in log and "coverage" in log

    ev = run_cli("eval", str(trained_run), str(tiny_data["test"]), "--json")
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert report["pairs"] == 32  # 30 single-company tweets + one tweet naming two banks
    assert report["f_macro"] > 0.9 and 0 <= report["f_micro"] <= 1

    out = tiny_data["dir"] / "pred.csv"
    pr = run_cli("predict", str(trained_run / "model.pt"), str(tiny_data["lines"]), "--output", str(out))
    assert pr.returncode == 0, pr.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["1", "2", "4"]  # the blank line 3 is not a record
    assert [r["label"] for r in rows[:2]] == ["1", "-1"]
    for r in rows:
        assert sum(float(r[f"p_{c}"]) for c in ("negative", "neutral", "positive")) == pytest.approx(1, abs=1e-4)
    # "кошмар" never appeared in training but has a vector close to the negative words
    assert rows[2]["label"] == "-1"

    xml_out = tiny_data["dir"] / "filled.xml"
    pr = run_cli("predict", str(trained_run), str(tiny_data["test"]), "--format", "sentirueval",
                 "--output", str(xml_out))
    assert pr.returncode == 0, pr.stderr
    gold, filled = read_records(tiny_data["test"]), read_records(xml_out)
    assert [set(r.labels) for r in filled] == [set(r.labels) for r in gold]
    assert sum(f.labels == g.labels for f, g in zip(filled, gold)) >= 28

    js = run_cli("predict", str(trained_run), str(tiny_data["test"]), "--format", "jsonl")
    lines = [json.loads(x) for x in js.stdout.splitlines()]
    assert len(lines) == 31 and set(lines[0]) == {"id", "label", "p_negative", "p_neutral", "p_positive"}


def test_eval_on_unlabelled_file_fails_cleanly(trained):
    trained_run, tiny_data = trained
    res = run_cli("eval", str(trained_run), str(tiny_data["lines"]))
    assert res.returncode == 2 and res.stderr.startswith("error:") and "no record carries a label" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval", "nope", "x.xml"], "no such run directory"),
        (["predict", ".", "x.txt"], "not a sentinet run"),
        (["train", "--config", "missing.yaml"], "config file not found"),
    ],
)
def test_bad_paths_are_one_line_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.xml").write_text("<x/>", encoding="utf-8")  # the input exists: the run is at fault
    (tmp_path / "x.txt").write_text("x\n", encoding="utf-8")
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_bad_training_inputs(tiny_data, tmp_path, capsys, monkeypatch):
    config = tiny_data["dir"] / "c.yaml"
    cases = {
        "unknown config key 'train.epoch'": ("train.epoch=1", None),
        "malformed XML at line": ("train.epochs=1", "<pma_xml_export><table><column name='text'>x</colum"),
        "not valid UTF-8": ("train.epochs=1", b"<a>\xff\xfe</a>"),
        "unknown label value": ("train.epochs=1", "<r><table><column name='id'>1</column>"
                                "<column name='text'>x</column><column name='vtb'>7</column></table></r>"),
        "no record carries a label": ("train.epochs=1", "<r><table><column name='id'>1</column>"
                                      "<column name='text'>x</column><column name='vtb'>NULL</column></table></r>"),
        "dimension 16, expected 300": ("vectors.dim=300", None),
    }
    for message, (override, content) in cases.items():
        data = dict(tiny_data)
        if content is not None:
            bad = tmp_path / "bad.xml"
            (bad.write_bytes if isinstance(content, bytes) else bad.write_text)(content)
            data["train"] = bad
        config.write_text(tiny_config_yaml(data), encoding="utf-8")
        monkeypatch.setattr(sys, "argv", ["sentinet", "train", "--config", str(config), "--set", override])
        with pytest.raises(SystemExit) as exit_info:
            main()
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, message
        assert err.startswith("error:") and message in err, (message, err)
    assert not (tiny_data["dir"] / "runs").exists()  # failed runs leave nothing behind


def test_help_lists_commands():
    res = invoke("--help")
    assert res.exit_code == 0
    for cmd in ("train", "eval", "predict"):
        assert cmd in res.output


@pytest.mark.parametrize("encoder", ["cnn", "rnn", "lstm", "gru", "sru"])
def test_every_encoder_trains_and_reloads(encoder, tiny_data):
    """In-process (fast): train two epochs, reload the run, predict twice the same."""
    raw = yaml.safe_load(tiny_config_yaml(tiny_data, encoder=encoder, epochs=2))
    if encoder == "cnn":
        raw["model"]["encoder"] = {"name": "cnn", "filters": 8}
        raw["model"]["multichannel"] = True
    result = train(from_dict(raw))
    assert len(result.epochs) == 2 and 0 <= result.best["f_macro"] <= 1
    predictor = open_predictor(str(result.run_dir), "cpu")
    texts = ["сбербанк спасибо отлично", "втб ужасно плохо", "кошмар"]
    first = predictor.predict_proba(texts, progress=False)
    again = predictor.predict_proba(texts, progress=False)  # vocabulary already extended
    np.testing.assert_allclose(first, again, rtol=1e-6)
    assert first.shape == (3, 3)


def test_embeddings_train_command(tiny_data):
    out = tiny_data["dir"] / "w2v.bin"
    res = run_cli("embeddings", "train", str(tiny_data["train"]), str(tiny_data["lines"]),
                  "--out", str(out), "--set", "vectors.word2vec.dim=12", "--set", "vectors.word2vec.min_count=1")
    assert res.returncode == 0, res.stderr
    store = open_vectors(out)
    assert store.dim == 12 and "сбербанк" in store and "спасибо" in store


def test_train_seeds_writes_an_ensemble_that_eval_accepts(tiny_data):
    config = tiny_data["dir"] / "tiny.yaml"
    config.write_text(tiny_config_yaml(tiny_data, epochs=2), encoding="utf-8")
    res = invoke("train", "--config", str(config), "--seeds", "2")
    assert res.exit_code == 0, res.output
    ensemble = next((tiny_data["dir"] / "runs").glob("tiny-ensemble2-*"))
    assert "over 2 seeds" in res.output and str(ensemble) in res.output
    assert res.output.count("best epoch ") >= 2 and res.output.count("precision") == 1  # the ensemble's alone
    ev = invoke("eval", str(ensemble), str(tiny_data["test"]), "--json")
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.output.strip().splitlines()[-1])["pairs"] == 32
