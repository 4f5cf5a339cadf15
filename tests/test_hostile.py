"""Hostile and broken input through the CLI, the way a user (or an attacker) meets it.

Every case runs ``sentinet`` in a subprocess and checks the same contract: exit code 2, one
``error:`` line on stderr, no traceback, nothing planted ever runs, and nothing is written
outside the chosen directory. Add a case to a table below to extend the battery.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .conftest import make_corpus, sentirueval_xml, tiny_config_yaml, write_word2vec_text
from .conftest import FILLER, NAMES, NEGATIVE, NEUTRAL, POSITIVE, UNSEEN


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinet", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


class Planted:
    """A pickle payload: unpickling it runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (with its content) and folder under ``root``: compared before and after."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    """One tiny trained run shared by the battery (training it once keeps the suite fast)."""
    root = tmp_path_factory.mktemp("hostile")
    data = {"dir": root, "train": root / "train.xml", "vectors": root / "vectors.txt"}
    data["train"].write_text(sentirueval_xml(make_corpus(90, seed=1)), encoding="utf-8")
    words = sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER, *NAMES.values(), *UNSEEN})
    write_word2vec_text(data["vectors"], words, dim=8)
    config = root / "tiny.yaml"
    config.write_text(tiny_config_yaml(data, epochs=1), encoding="utf-8")
    result = run_cli("train", "--config", str(config))
    assert result.returncode == 0, result.stderr
    (run,) = (root / "runs").iterdir()
    lines = root / "lines.txt"
    lines.write_text("сбербанк спасибо\nкошмар великолепно\n", encoding="utf-8")  # unseen words
    return {**data, "config": config, "run": run, "lines": lines}


@pytest.fixture
def run_copy(workspace, tmp_path) -> Path:
    """A private copy of the trained run that a test may tamper with."""
    return Path(shutil.copytree(workspace["run"], tmp_path / "run"))


# --------------------------------------------------------------------------------------
# Nothing planted in a run directory or a vectors file ever runs


def test_run_pointing_at_a_planted_kv_runs_nothing(workspace, run_copy, tmp_path):
    marker = tmp_path / "pwned"
    planted = tmp_path / "vectors.kv"
    planted.write_bytes(pickle.dumps(Planted(marker)))
    vocab = json.loads((run_copy / "vocab.json").read_text(encoding="utf-8"))
    vocab["vectors"] = {"path": str(planted), "format": "auto", "concat": []}
    (run_copy / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")

    for command in (["predict", str(run_copy), str(workspace["lines"])],
                    ["eval", str(run_copy), str(workspace["train"])]):
        result = run_cli(*command)
        assert_one_line_error(result, "vocab.json", "vectors.kv", "pickle")
        assert not marker.exists(), "the planted pickle ran"


def test_vocab_naming_kv_format_explicitly_runs_nothing(workspace, run_copy, tmp_path):
    marker = tmp_path / "pwned"
    planted = tmp_path / "innocent.bin"  # the extension says nothing; the format key does
    planted.write_bytes(pickle.dumps(Planted(marker)))
    vocab = json.loads((run_copy / "vocab.json").read_text(encoding="utf-8"))
    vocab["vectors"] = {"path": str(planted), "format": "kv", "concat": []}
    (run_copy / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    result = run_cli("predict", str(run_copy), str(workspace["lines"]))
    assert_one_line_error(result, "pickle")
    assert not marker.exists()


@pytest.mark.parametrize("how", ["torch.save", "raw pickle"])
def test_planted_model_pt_runs_nothing(workspace, run_copy, tmp_path, how):
    marker = tmp_path / "pwned"
    weights = run_copy / "model.pt"
    if how == "torch.save":
        state = torch.load(weights, weights_only=True)
        state["payload"] = Planted(marker)
        torch.save(state, weights)
    else:
        weights.write_bytes(pickle.dumps({"x": Planted(marker)}))
    result = run_cli("predict", str(run_copy), str(workspace["lines"]))
    assert_one_line_error(result, "model.pt", "not a sentinet weights file")
    assert not marker.exists(), "the planted pickle ran"


def test_training_on_kv_vectors_is_refused(workspace, tmp_path):
    marker = tmp_path / "pwned"
    planted = tmp_path / "vectors.kv"
    planted.write_bytes(pickle.dumps(Planted(marker)))
    out = tmp_path / "runs"
    result = run_cli("train", "--config", str(workspace["config"]), "--output-dir", str(out),
                     "--set", f"vectors.path={planted}")
    assert_one_line_error(result, "vectors.kv", "never loads them", "save_word2vec_format")
    assert not marker.exists()
    assert not out.exists() or not any(out.iterdir()), "a refused run left a directory"


# --------------------------------------------------------------------------------------
# Nothing is written outside the chosen output directory


@pytest.mark.parametrize("name", ["../escaped", "../../escaped", "a/../../escaped", "/tmp/escaped-abs",
                                  "..", ".", "sub/dir", "back\\slash"])
def test_run_name_cannot_leave_the_output_dir(workspace, tmp_path, name):
    out = tmp_path / "deep" / "runs"
    out.mkdir(parents=True)
    before = snapshot(tmp_path)
    result = run_cli("train", "--config", str(workspace["config"]), "--output-dir", str(out),
                     "--set", f"run.name={name}")
    assert_one_line_error(result, "run.name", "plain name")
    assert snapshot(tmp_path) == before
    assert not list(Path("/tmp").glob("escaped-abs*"))


def test_run_name_in_yaml_is_checked_too(workspace, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(workspace["config"].read_text(encoding="utf-8") + "  name: ../../x\n",
                      encoding="utf-8")  # appended under the run: section
    result = run_cli("train", "--config", str(config), "--output-dir", str(tmp_path / "runs"))
    assert_one_line_error(result, "run.name", "'../../x'")
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------------------
# Incomplete runs, resume of what is not a run, run files that do not fit, full disks


def killed_in_epoch_1(run: Path) -> Path:
    """What a kill -9 (or a power cut) during epoch 1 leaves: config, vocabulary, log, note."""
    for name in ("model.pt", "last.pt", "metrics.json", "metrics.csv", "dev_predictions.json",
                 "curves.png", "confusion.png"):
        (run / name).unlink(missing_ok=True)
    (run / "INCOMPLETE").write_text("training has not finished: it is running, or was killed\n",
                                    encoding="utf-8")
    return run


def killed_later(run: Path) -> Path:
    (run / "INCOMPLETE").write_text("training has not finished: it is running, or was killed\n",
                                    encoding="utf-8")
    return run


@pytest.mark.parametrize("damage, command, fragments", [
    (killed_in_epoch_1, ["eval", "{run}", "{train}"], ["incomplete run", "no model.pt yet", "--resume {run}"]),
    (killed_in_epoch_1, ["predict", "{run}", "{lines}"], ["incomplete run", "--resume {run}"]),
    (killed_in_epoch_1, ["report", "{run}"], ["incomplete run", "no epoch saved yet", "--resume {run}"]),
    (killed_later, ["export", "{run}", "{tmp}/model.tar.gz"], ["incomplete run", "--resume {run}"]),
], ids=["eval", "predict", "report", "export"])
def test_incomplete_run_says_so_and_how_to_resume(workspace, run_copy, tmp_path, damage, command, fragments):
    damage(run_copy)
    fill = {"run": run_copy, "train": workspace["train"], "lines": workspace["lines"], "tmp": tmp_path}
    before = snapshot(tmp_path)
    result = run_cli(*(arg.format(**fill) for arg in command))
    assert_one_line_error(result, *(f.format(**fill) for f in fragments))
    assert snapshot(tmp_path) == before


def not_a_run(tmp_path: Path, run: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def finished_without_last(tmp_path: Path, run: Path) -> Path:
    (run / "last.pt").unlink()
    return run


def broken_group_plan(tmp_path: Path, run: Path) -> Path:
    (tmp_path / "group").mkdir()
    (tmp_path / "group" / "group.json").write_text('{"kind": "seeds"', encoding="utf-8")
    return tmp_path / "group"


def incomplete_with_broken_config(tmp_path: Path, run: Path) -> Path:
    (killed_later(run) / "config.yaml").write_text("train:\n  epochs: [\n", encoding="utf-8")
    return run


@pytest.mark.parametrize("make, fragments", [
    (not_a_run, ["empty: not a sentinet run directory (no config.yaml)"]),
    (lambda tmp, run: tmp / "nowhere", ["nowhere: not a sentinet run directory"]),
    (lambda tmp, run: run / "model.pt", ["model.pt: not a sentinet run directory"]),
    (finished_without_last, ["no last.pt to resume from"]),
    (broken_group_plan, ["group.json: unreadable group plan"]),
    (incomplete_with_broken_config, ["config.yaml: expected the node content", "line 3"]),
], ids=["empty folder", "missing path", "model file", "finished run without last.pt",
        "group with a broken plan", "incomplete run with a broken config.yaml"])
def test_resume_of_what_cannot_be_resumed(run_copy, tmp_path, make, fragments):
    target = make(tmp_path, run_copy)
    before = snapshot(tmp_path)
    assert_one_line_error(run_cli("train", "--resume", str(target)), *fragments)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("config_yaml, fragments", [
    ("{original}train: {{bogus: 1}}\n", ["config.yaml: unknown config key 'train.bogus'"]),
    ("train:\n  epochs: [\n", ["config.yaml: expected the node content", "line 3"]),
    ("{hidden_32}", ["model.pt: weights do not fit the run's config.yaml and vocab.json",
                     "encoder.rnn.weight_hh_l0 expected (96, 32), found (48, 16)",
                     "head.1.weight expected (3, 64), found (3, 32))"]),  # the last one: nothing cut off
], ids=["unknown key", "broken yaml", "weights of another shape"])
def test_run_config_problems_are_one_line_naming_the_file(workspace, run_copy, config_yaml, fragments):
    original = (run_copy / "config.yaml").read_text(encoding="utf-8")
    hidden_32 = original.replace("hidden_size: 16", "hidden_size: 32")
    assert hidden_32 != original
    (run_copy / "config.yaml").write_text(config_yaml.format(original=original, hidden_32=hidden_32),
                                          encoding="utf-8")
    before = snapshot(run_copy)
    result = run_cli("eval", str(run_copy), str(workspace["train"]))
    assert_one_line_error(result, *fragments)
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("command", [
    ["predict", "{run}", "{lines}", "-o", "{out}"],
    ["embeddings", "train", "{lines}", "-o", "{out}", "--set", "vectors.word2vec.min_count=1"],
], ids=["predict", "embeddings train"])
def test_output_that_is_a_directory_is_named_not_a_temp_file(workspace, tmp_path, command):
    (tmp_path / "out").mkdir()
    before = snapshot(tmp_path)
    fill = {"run": workspace["run"], "lines": workspace["lines"], "out": tmp_path / "out"}
    result = run_cli(*(arg.format(**fill) for arg in command))
    assert_one_line_error(result, f"{tmp_path / 'out'}: is a directory")
    assert ".tmp" not in result.stderr
    assert snapshot(tmp_path) == before


def run_with_file_size_limit(limit: int, *args: str) -> subprocess.CompletedProcess:
    """The CLI as on a full disk: no file it writes may grow past ``limit`` bytes (the kernel
    answers EFBIG as it would ENOSPC: the same failed write)."""
    import resource
    import signal

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "sentinet", *args], capture_output=True, text=True,
                          timeout=300, preexec_fn=limited)


def test_full_disk_during_training_names_the_file_and_leaves_no_run(workspace, tmp_path):
    weights = (workspace["run"] / "model.pt").stat().st_size
    assert 2 * weights < (workspace["run"] / "last.pt").stat().st_size  # model.pt fits, last.pt not
    out = tmp_path / "runs"
    result = run_with_file_size_limit(2 * weights, "train", "--config", str(workspace["config"]),
                                      "--output-dir", str(out))
    assert_one_line_error(result, "last.pt: cannot write (File too large)")
    assert ".tmp" not in result.stderr
    assert not out.exists() or not any(out.iterdir()), "a run that never saved a checkpoint was left"


def test_full_disk_during_predict_names_the_output_and_leaves_nothing(workspace, tmp_path):
    lines = tmp_path / "many.txt"
    lines.write_text("сбербанк спасибо отлично\n" * 200, encoding="utf-8")
    before = snapshot(tmp_path)
    result = run_with_file_size_limit(2000, "predict", str(workspace["run"]), str(lines),
                                      "-o", str(tmp_path / "labels.csv"))
    assert_one_line_error(result, "labels.csv: cannot write (File too large)")
    assert snapshot(tmp_path) == before
