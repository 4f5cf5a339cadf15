"""``sentinet ensemble RUN... -o DIR`` as a user meets it: a CNN run and a GRU run over other
vectors, trained apart by the CLI, averaged into one directory that ``predict``, ``eval`` and
``export`` take like a single run; and every way to get it wrong, refused in one line without
touching anything."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
import yaml

from sentinet.runs import rundir
from sentinet.errors import SentinetError

from ..helpers import (
    FILLER, NAMES, NEGATIVE, NEUTRAL, POSITIVE, UNSEEN, assert_one_line_error, make_corpus, run_cli,
    sentirueval_xml, snapshot, tiny_config_yaml, write_tiny_data, write_word2vec_text,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """A one-epoch CNN (16-dim vectors) and GRU (12-dim vectors) on the tiny data, with one dev
    split, and ``mixed``: the ensemble of the two, made by the command under test."""
    root = tmp_path_factory.mktemp("mixed")
    data = write_tiny_data(root)
    other_vectors = root / "vectors12.txt"
    words = sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER, *NAMES.values(), *UNSEEN} - {"втб"})
    write_word2vec_text(other_vectors, words, dim=12, seed=5)
    configs = {
        "cnn": tiny_config_yaml(data, "cnn", epochs=1).replace("    hidden_size: 16\n",
                                                                "    filters: 8\n    widths: [2, 3]\n"),
        "gru": tiny_config_yaml(data, "gru", epochs=1).replace(str(data["vectors"]), str(other_vectors)),
    }
    found = {"root": root, **data}
    for name, text in configs.items():
        config = root / f"{name}.yaml"
        config.write_text(text, encoding="utf-8")
        result = run_cli("train", "--config", str(config), "--set", f"run.name={name}")
        assert result.returncode == 0, result.stderr
        found[name] = Path(result.stdout.splitlines()[-1].split("\t")[0])
    found["mixed"] = root / "ensembles" / "cnn+gru"  # its parent is made too
    made = run_cli("ensemble", str(found["cnn"]), str(found["gru"]), "-o", str(found["mixed"]))
    assert made.returncode == 0, made.stderr
    found["made"] = made
    return found


def metrics(path: Path) -> dict:
    return json.loads((path / rundir.METRICS).read_text(encoding="utf-8"))


def probabilities(run: Path, lines: Path) -> dict[str, list[float]]:
    result = run_cli("predict", str(run), str(lines), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows
    return {r["id"]: [r[k] for k in ("p_negative", "p_neutral", "p_positive")] for r in rows}


def assert_mean(mixed: dict, *members: dict) -> None:
    assert mixed.keys() == members[0].keys()
    for key, probs in mixed.items():
        mean = [sum(m[key][c] for m in members) / len(members) for c in range(len(probs))]
        assert probs == pytest.approx(mean, abs=1e-5), key


def tampered(source: Path, into: Path, labels: list | None = None, dev=None) -> Path:
    """A copy of a run with another label set or other dev predictions, as training writes them."""
    copy = Path(shutil.copytree(source, into))
    if labels is not None:
        config = yaml.safe_load((copy / rundir.CONFIG).read_text(encoding="utf-8"))
        config["data"]["labels"] = labels
        (copy / rundir.CONFIG).write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        rundir.write_metrics(copy, {**metrics(copy), "labels": labels})
    if dev is not None:
        rows = json.loads((copy / rundir.DEV).read_text(encoding="utf-8"))
        (copy / rundir.DEV).write_text(json.dumps(dev(rows)), encoding="utf-8")
    return copy


# --------------------------------------------------------------------------------------
# What it writes and prints


def test_ensemble_lists_both_runs_relative_to_itself(runs):
    mixed = runs["mixed"]
    names = json.loads((mixed / rundir.ENSEMBLE).read_text(encoding="utf-8"))["members"]
    assert all(not Path(n).is_absolute() for n in names)
    assert rundir.members(mixed) == [runs["cnn"].resolve(), runs["gru"].resolve()]
    assert sorted(p.name for p in mixed.iterdir()) == [rundir.ENSEMBLE, rundir.METRICS, rundir.LOG]
    assert rundir.status(mixed) is None

    out = runs["made"].stdout.splitlines()
    assert out[-1] == str(mixed)  # the directory last, as train prints its run
    assert out[0].startswith(f"{runs['cnn'].resolve()}\tcnn\tdev F-macro ")
    assert out[1].startswith(f"{runs['gru'].resolve()}\tgru\tdev F-macro ")
    summary = metrics(mixed)
    assert out[2] == (f"ensemble of 2\tdev F-macro {summary['ensemble']['f_macro']:.4f}\t"
                      f"F-micro {summary['ensemble']['f_micro']:.4f}")

    each = [metrics(runs[name])["best"] for name in ("cnn", "gru")]
    assert summary["kind"] == "mixed" and summary["decision_bias"] is None
    assert summary["labels"] == [-1, 0, 1]
    assert summary["members"] == [str(runs["cnn"].resolve()), str(runs["gru"].resolve())]
    assert [m["encoder"] for m in summary["member_scores"]] == ["cnn", "gru"]
    assert [m["vectors"] for m in summary["member_scores"]] == ["vectors.txt", "vectors12.txt"]
    assert summary["f_macro"]["mean"] == pytest.approx((each[0]["f_macro"] + each[1]["f_macro"]) / 2)
    assert summary["dev"] == {"records": 30, "matched": "in order"}
    assert "report" not in summary["ensemble"] and summary["ensemble"]["pairs"] == 30
    assert "ensemble (averaged probabilities)" in (mixed / rundir.LOG).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def predicted(runs) -> dict[str, list[float]]:
    """The ensemble's predictions on lines.txt, which holds a word no training text does
    (looked up in each member's own vectors)."""
    return probabilities(runs["mixed"], runs["lines"])


def test_predict_averages_the_members_probabilities(runs, predicted):
    assert_mean(predicted, probabilities(runs["cnn"], runs["lines"]), probabilities(runs["gru"], runs["lines"]))


def test_eval_on_the_dev_records_gives_the_dev_score_of_metrics_json(runs):
    dev = json.loads((runs["cnn"] / rundir.DEV).read_text(encoding="utf-8"))
    corpus = make_corpus(150, seed=1)  # train.xml, whose ids count from 1
    rows = [corpus[int(r["id"]) - 1] for r in dev]
    assert [labels for _, labels in rows] == [r["gold"] for r in dev]
    dev_file = runs["root"] / "dev.xml"
    dev_file.write_text(sentirueval_xml(rows), encoding="utf-8")

    result = run_cli("eval", str(runs["mixed"]), str(dev_file), "--json")
    assert result.returncode == 0, result.stderr
    scored, expected = json.loads(result.stdout), metrics(runs["mixed"])["ensemble"]
    assert scored["pairs"] == expected["pairs"] == 30
    assert scored["f_macro"] == pytest.approx(expected["f_macro"], abs=1e-9)
    assert scored["confusion"] == expected["confusion"]


def test_export_carries_the_ensemble_to_another_machine(runs, predicted, tmp_path):
    archive = tmp_path / "mixed.tar.gz"
    result = run_cli("export", str(runs["mixed"]), str(archive))
    assert result.returncode == 0, result.stderr
    assert "2 runs" in result.stderr
    assert_mean(probabilities(archive, runs["lines"]), predicted)


def test_an_ensemble_given_as_a_run_brings_its_members(runs, tmp_path):
    third = Path(shutil.copytree(runs["gru"], tmp_path / "gru-copy"))
    target = tmp_path / "three"
    target.mkdir()  # an empty folder will do
    result = run_cli("ensemble", str(runs["mixed"]), str(third), "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert rundir.members(target) == [runs["cnn"].resolve(), runs["gru"].resolve(), third.resolve()]
    assert len(metrics(target)["member_scores"]) == 3


def test_dev_records_in_another_order_are_matched_by_id(runs, tmp_path):
    shuffled = tampered(runs["gru"], tmp_path / "gru-reversed", dev=lambda rows: rows[::-1])
    target = tmp_path / "by-id"
    result = run_cli("ensemble", str(runs["cnn"]), str(shuffled), "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert metrics(target)["dev"] == {"records": 30, "matched": "by id"}
    assert metrics(target)["ensemble"] == metrics(runs["mixed"])["ensemble"]


def test_members_scored_on_other_dev_records_make_an_unscored_ensemble(runs, tmp_path):
    fewer = tampered(runs["gru"], tmp_path / "gru-fewer", dev=lambda rows: rows[:20])
    target = tmp_path / "unscored"
    result = run_cli("ensemble", str(runs["cnn"]), str(fewer), "-o", str(target))
    assert result.returncode == 0, result.stderr
    summary = metrics(target)
    assert summary["ensemble"] is None and summary["dev"]["records"] is None
    assert "other dev records" in summary["dev"]["note"]
    assert "note: the ensemble is not scored on dev" in result.stderr
    assert "\tnot scored on dev: " in result.stdout.splitlines()[-2]
    assert result.stdout.splitlines()[-1] == str(target)
    assert "not scored on dev" in (target / rundir.LOG).read_text(encoding="utf-8")
    assert rundir.members(target) == [runs["cnn"].resolve(), fewer.resolve()]


# --------------------------------------------------------------------------------------
# Refusals: one line naming the run, nothing written


def refused(args: list[str], target: Path, *fragments: str) -> None:
    result = run_cli("ensemble", *args, "-o", str(target))
    assert_one_line_error(result, *fragments)
    assert not target.exists()


def test_one_member_is_not_an_ensemble(runs, tmp_path):
    refused([str(runs["cnn"])], tmp_path / "out", "at least 2 runs", str(runs["cnn"]))


def test_a_missing_run_is_named(runs, tmp_path):
    missing = tmp_path / "no-such-run"
    refused([str(runs["cnn"]), str(missing)], tmp_path / "out", str(missing), "no such run directory")


def test_an_incomplete_run_is_refused(runs, tmp_path):
    cut = Path(shutil.copytree(runs["gru"], tmp_path / "gru-cut"))
    rundir.mark(cut, "interrupted at epoch 1 of 2")
    refused([str(runs["cnn"]), str(cut)], tmp_path / "out", f"{cut.resolve()}: incomplete run",
            "interrupted at epoch 1 of 2", "--resume")


@pytest.mark.parametrize("labels", [[1, 0, -1], ["negative", "neutral", "positive", "skip"]],
                         ids=["other order", "other set"])
def test_a_run_with_other_labels_is_refused(runs, tmp_path, labels):
    other = tampered(runs["gru"], tmp_path / "gru-labels", labels=labels)
    refused([str(runs["cnn"]), str(other)], tmp_path / "out", str(other.resolve()), "one label set")


def test_a_run_counts_once(runs, tmp_path):
    refused([str(runs["mixed"]), str(runs["cnn"])], tmp_path / "out", str(runs["cnn"].resolve()),
            "given twice")


def test_an_export_archive_is_not_a_member(runs, tmp_path):
    archive = tmp_path / "x.tar.gz"
    archive.write_bytes(b"not even an archive")
    refused([str(runs["cnn"]), str(archive)], tmp_path / "out", str(archive), "export archive")


@pytest.mark.parametrize("where", ["a folder with a file", "an existing run", "inside a run"])
def test_an_existing_directory_or_run_is_never_written_into(runs, tmp_path, where):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n", encoding="utf-8")
    target = {"a folder with a file": folder, "an existing run": runs["gru"],
              "inside a run": runs["gru"] / "sub"}[where]
    before = {p: snapshot(p) for p in (folder, runs["cnn"], runs["gru"])}
    result = run_cli("ensemble", str(runs["cnn"]), str(runs["gru"]), "-o", str(target))
    assert_one_line_error(result, str(target))
    assert {p: snapshot(p) for p in before} == before


def test_a_failed_write_leaves_no_directory(runs, tmp_path, monkeypatch):
    """A full disk at the last write (ensemble.json): what was written goes, and the folders
    the command made; an empty folder given stays, empty."""
    from sentinet import ensemble

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rundir, "write_members", full)
    new = tmp_path / "new" / "ensemble"
    with pytest.raises(OSError):
        ensemble.combine_runs([runs["cnn"], runs["gru"]], new)
    assert list(tmp_path.iterdir()) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OSError):
        ensemble.combine_runs([runs["cnn"], runs["gru"]], empty)
    assert list(empty.iterdir()) == []
    with pytest.raises(SentinetError, match="at least 2 runs"):
        ensemble.combine_runs([runs["cnn"]], new)
    assert not new.parent.exists()
