"""``sentinet ensemble RUN... -o DIR --weights W1,W2,...`` with a ``sentinet baseline`` run among
the members, as a user meets it: a neural run and the baseline fitted on its config, averaged
with weights (0.7·neural + 0.3·baseline) or equally (today's files, no weights key), exported
and predicted from the archive; bad weights refused in one line with nothing written, and an
archive whose ensemble.json weights were tampered with refused in one line."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from sentinet.runs import rundir

from .helpers import assert_one_line_error, run_cli, snapshot

ROOT = "sentinet-export"


@pytest.fixture(scope="module")
def made(learned_run, tmp_path_factory) -> dict:
    """The learned run, the baseline ``sentinet baseline`` fits on its config, and the two
    ensembles of them: ``weighted`` (--weights 0.7,0.3) and ``plain`` (no --weights)."""
    root = tmp_path_factory.mktemp("members")
    fitted = run_cli("baseline", "--config", str(learned_run["config"]), "--output-dir", str(root / "runs"))
    assert fitted.returncode == 0, fitted.stderr
    found = {**learned_run, "root": root, "neural": learned_run["run"],
             "baseline": Path(fitted.stdout.splitlines()[-1].split("\t")[0])}
    for name, extra in (("weighted", ["--weights", "0.7,0.3"]), ("plain", [])):
        result = run_cli("ensemble", str(found["neural"]), str(found["baseline"]), "-o", str(root / name), *extra)
        assert result.returncode == 0, result.stderr
        found[name], found[f"{name}_out"] = root / name, result.stdout
    return found


def texts(made: dict) -> list[str]:
    own = made["lines"].read_text(encoding="utf-8").splitlines()
    return [*own, "втб ужасно долго", "офис карта сегодня"]


def proba(path: Path, lines: list[str]) -> np.ndarray:
    import sentinet

    model = sentinet.load(path)
    try:
        return np.asarray(model.predict_proba(lines), dtype=np.float64)
    finally:
        model.close()


def manifest(path: Path) -> dict:
    return json.loads((path / rundir.ENSEMBLE).read_text(encoding="utf-8"))


def metrics(path: Path) -> dict:
    return json.loads((path / rundir.METRICS).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------
# What the ensemble predicts and writes


def test_weighted_ensemble_predicts_the_weighted_average_of_its_members(made):
    lines = texts(made)
    neural, baseline = proba(made["neural"], lines), proba(made["baseline"], lines)
    assert not np.allclose(neural, baseline, atol=1e-3)  # the weights matter
    np.testing.assert_allclose(proba(made["weighted"], lines), 0.7 * neural + 0.3 * baseline, rtol=0, atol=1e-6)
    assert manifest(made["weighted"])["weights"] == pytest.approx([0.7, 0.3])
    assert rundir.member_weights(made["weighted"]) == pytest.approx([0.7, 0.3])


def test_weighted_ensemble_is_scored_on_dev_by_the_weighted_average(made):
    from sentinet.evaluation.decision import decide
    from sentinet.evaluation.metrics import full_report
    from sentinet.labels import LabelSet

    rows = [json.loads((made[k] / rundir.DEV).read_text(encoding="utf-8")) for k in ("neural", "baseline")]
    assert [r["id"] for r in rows[0]] == [r["id"] for r in rows[1]]  # one config: one dev split
    probs = 0.7 * np.asarray([r["probs"] for r in rows[0]]) + 0.3 * np.asarray([r["probs"] for r in rows[1]])
    classes = LabelSet.of([-1, 0, 1])
    expected = full_report([r["gold"] for r in rows[0]], decide(probs, classes, None), classes, "auto")
    summary = metrics(made["weighted"])
    assert summary["ensemble"]["f_macro"] == pytest.approx(expected["f_macro"], abs=1e-9)
    assert summary["weights"] == pytest.approx([0.7, 0.3])
    scores = summary["member_scores"]
    assert [m["encoder"] for m in scores] == ["gru", "tf-idf + logreg"] and scores[1]["vectors"] is None
    out = made["weighted_out"].splitlines()
    assert out[0].endswith("\tweight 0.7") and out[1].endswith("\tweight 0.3")
    assert out[1].startswith(f"{made['baseline'].resolve()}\ttf-idf + logreg\tdev F-macro ")
    assert "weighted average of probabilities" in (made["weighted"] / rundir.LOG).read_text(encoding="utf-8")


def test_without_weights_the_members_count_equally_as_before(made):
    lines = texts(made)
    mean = (proba(made["neural"], lines) + proba(made["baseline"], lines)) / 2
    np.testing.assert_allclose(proba(made["plain"], lines), mean, rtol=0, atol=1e-6)
    home = made["plain"].resolve()
    assert manifest(made["plain"]) == {"members": [os.path.relpath(made[k].resolve(), home)
                                                   for k in ("neural", "baseline")]}
    assert "weights" not in metrics(made["plain"]) and rundir.member_weights(made["plain"]) is None
    assert not any("\tweight " in line for line in made["plain_out"].splitlines())


def test_a_weight_given_for_an_ensemble_is_shared_as_it_weighs_its_members(made, tmp_path):
    copy = Path(shutil.copytree(made["neural"], tmp_path / "neural-copy"))
    shared = tmp_path / "shared"
    result = run_cli("ensemble", str(made["weighted"]), str(copy), "-o", str(shared), "--weights", "1,1")
    assert result.returncode == 0, result.stderr
    assert manifest(shared)["weights"] == pytest.approx([0.35, 0.15, 0.5])
    unweighted = tmp_path / "unweighted"  # no --weights: every member counts 1, the inner ratio kept
    result = run_cli("ensemble", str(made["weighted"]), str(copy), "-o", str(unweighted))
    assert result.returncode == 0, result.stderr
    assert manifest(unweighted)["weights"] == pytest.approx([1.4 / 3, 0.6 / 3, 1 / 3])


@pytest.mark.parametrize("weights, fragment", [
    ("0.5", "1 weight for 2 RUNs"), ("1,2,3", "3 weights for 2 RUNs"), ("0,1", "0 is not a positive number"),
    ("0.5,-1", "-1 is not a positive number"), ("x,1", "'x' is not a number"), ("1,nan", "nan is not a positive"),
])
def test_bad_weights_are_refused_in_one_line_and_nothing_is_written(made, tmp_path, weights, fragment):
    before = {k: snapshot(made[k]) for k in ("neural", "baseline")}
    target = tmp_path / "out"
    result = run_cli("ensemble", str(made["neural"]), str(made["baseline"]), "-o", str(target), "--weights", weights)
    assert_one_line_error(result, "--weights", fragment)
    assert not target.exists() and result.stdout == ""
    assert {k: snapshot(made[k]) for k in before} == before


# --------------------------------------------------------------------------------------
# Export


@pytest.fixture(scope="module")
def archive(made) -> Path:
    path = made["root"] / "weighted.tar.gz"
    result = run_cli("export", str(made["weighted"]), str(path))
    assert result.returncode == 0, result.stderr
    return path


def predicted_csv(model: Path, lines: Path, out: Path) -> bytes:
    result = run_cli("predict", str(model), str(lines), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def test_an_exported_weighted_ensemble_predicts_what_its_directory_does(made, archive, tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(texts(made)) + "\n", encoding="utf-8")
    from_archive = predicted_csv(archive, lines, tmp_path / "archive.csv")
    assert from_archive == predicted_csv(made["weighted"], lines, tmp_path / "dir.csv")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        listed = json.load(tar.extractfile(f"{ROOT}/{rundir.ENSEMBLE}"))
        config = tar.extractfile(f"{ROOT}/member1/{rundir.CONFIG}").read().decode("utf-8")
    assert {f"{ROOT}/member1/{name}" for name in (rundir.CONFIG, rundir.BASELINE_JSON, rundir.BASELINE_NPZ,
                                                   rundir.METRICS)} <= names
    assert not {f"{ROOT}/member1/{name}" for name in (rundir.VOCAB, rundir.WEIGHTS, rundir.BUNDLE)} & names
    assert listed == {"members": ["member0", "member1"], "weights": pytest.approx([0.7, 0.3])}
    assert str(made["dir"]) not in config  # data paths reduced to file names, no vectors path


def repacked(archive: Path, into: Path, change) -> Path:
    """The archive with ``change(name, bytes)`` applied to each file (None drops it; extra
    files come from ``change(None, None)``), in its order."""
    out = into / "tampered.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(out, "w:gz") as target:
        for info in source.getmembers():
            data = source.extractfile(info).read() if info.isfile() else None
            if data is not None:
                data = change(info.name, data)
                if data is None:
                    continue
                info.size = len(data)
            target.addfile(info, io.BytesIO(data) if data is not None else None)
        for name, data in (change(None, None) or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    return out


@pytest.mark.parametrize("weights", [[-0.5, 1.5], [1.0], [0.7, 0.3, 0.1], "0.7,0.3", [0, 1], [True, 1]],
                         ids=["negative", "too few", "too many", "text", "zero", "boolean"])
def test_an_archive_with_tampered_weights_is_refused_in_one_line(made, archive, tmp_path, weights):
    def change(name, data):
        if name == f"{ROOT}/{rundir.ENSEMBLE}":
            return json.dumps({**json.loads(data), "weights": weights}).encode()
        return data

    tampered = repacked(archive, tmp_path, change)
    result = run_cli("predict", str(tampered), str(made["lines"]))
    assert_one_line_error(result, str(tampered), "ensemble.json", "weights")


def test_an_archive_member_mixing_baseline_and_run_files_is_refused(made, archive, tmp_path):
    def change(name, data):
        if name is None:
            return {f"{ROOT}/member1/{rundir.VOCAB}": b"{}"}
        return data

    tampered = repacked(archive, tmp_path, change)
    assert_one_line_error(run_cli("predict", str(tampered), str(made["lines"])), str(tampered),
                          "both a baseline's files and a run's")


def test_an_archive_baseline_member_without_its_weights_is_refused(made, archive, tmp_path):
    tampered = repacked(archive, tmp_path,
                        lambda name, data: None if name == f"{ROOT}/member1/{rundir.BASELINE_NPZ}" else data)
    assert_one_line_error(run_cli("predict", str(tampered), str(made["lines"])), str(tampered),
                          "member1/ has no baseline.npz")


def test_a_directory_whose_weights_were_tampered_with_is_refused_in_one_line(made, tmp_path):
    copy = tmp_path / "ensemble"
    copy.mkdir()
    listed = manifest(made["weighted"])
    listed["members"] = [str((made["weighted"] / m).resolve()) for m in listed["members"]]
    (copy / rundir.ENSEMBLE).write_text(json.dumps({**listed, "weights": [0.5, -0.5]}), encoding="utf-8")
    assert_one_line_error(run_cli("predict", str(copy), str(made["lines"])), str(copy / rundir.ENSEMBLE),
                          "positive numbers")
