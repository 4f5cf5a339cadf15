"""kill -9 at every moment of an epoch's saves: no truncated or inconsistent checkpoint is ever
left, the run says it is incomplete, and ``sentinet train --resume`` ends it with the same
numbers as a run that never stopped. The same for --seeds / --folds groups, member by member.

The kills land exactly where they should through tests/fault_launcher.py, which runs the CLI
with its save functions patched: it writes a marker file and sleeps at the named moment, and
the test kills it there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sentinet.runs import weights
from sentinet.training import checkpoint
from sentinet.runs import rundir
from sentinet.api import load
from sentinet.data.training_data import load_training_data

from ..helpers import tiny_project
from ..fault_launcher import INTERRUPT, LAUNCHER, MARKER, PAUSE
from ..helpers import STATEFUL, without_times
from .test_resume import run_cli

SAVED_BEFORE_LAST = ("model.pt", "weights", "last.pt")  # the moments before last.pt (the commit)


def start(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The CLI in the background, with the default Ctrl-C disposition a terminal gives it (a
    shell running the suite in the background would hand it SIGINT ignored)."""
    with open(log, "w", encoding="utf-8") as err:
        return subprocess.Popen([sys.executable, str(LAUNCHER), *args], stdout=subprocess.DEVNULL,
                                stderr=err, env={**os.environ, **env},
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def stop_when_paused(moment: str, tmp_path: Path, *args: str, sig: int = signal.SIGKILL) -> int:
    """Run ``sentinet ARGS`` until it pauses at ``moment`` ([RUN/]POINT:EPOCH), send ``sig``."""
    marker, log = tmp_path / "paused", tmp_path / "stderr.txt"
    proc = start(*args, env={PAUSE: moment, MARKER: str(marker)}, log=log)
    deadline = time.time() + 300
    while not marker.exists():
        assert proc.poll() is None, f"ended before {moment}: {log.read_text(encoding='utf-8')}"
        assert time.time() < deadline, f"never reached {moment}"
        time.sleep(0.1)
    proc.send_signal(sig)
    return proc.wait(timeout=120)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """Tiny data and an uninterrupted run of it: what every killed and resumed run must equal."""
    root = tmp_path_factory.mktemp("faults")
    data, config = tiny_project(root)
    whole = run_cli("train", "--config", str(config), "--output-dir", str(root / "whole"), *STATEFUL)
    assert whole.returncode == 0, whole.stderr
    (run,) = (root / "whole").iterdir()
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    f = [row["f_macro"] for row in metrics["epochs"]]
    improving = [i + 1 for i in range(1, len(f)) if f[i] > max(f[:i])]
    assert improving, f"no epoch after the first improves on it ({f}): the kills would test less"
    return {"config": config, "test": data["test"], "metrics": metrics, "epoch": improving[0]}


def best_before(metrics: dict, epoch: int) -> int:
    """The best epoch (first of equals) among epochs 1 .. epoch, as training picks it."""
    rows = metrics["epochs"][:epoch]
    return max(rows, key=lambda r: (r["f_macro"], -r["epoch"]))["epoch"]


def assert_consistent(run: Path, reference: dict, killed_in: int, point: str) -> None:
    """Every file present loads, and each record agrees with the weights it names."""
    rows = [{k: v for k, v in r.items() if k != "seconds"} for r in reference["metrics"]["epochs"]]
    committed = killed_in - 1 if point in SAVED_BEFORE_LAST else killed_in  # last.pt's epoch
    record = weights.load_record(run / "model.pt")
    assert set(weights.load_weights(run / "model.pt"))  # loads, holds tensors
    expected_best = best_before(reference["metrics"], killed_in - 1 if point == "model.pt" else killed_in)
    assert record["best_epoch"] == expected_best
    assert record["best"] == {k: rows[expected_best - 1][k] for k in record["best"]}
    dev = load_training_data(rundir.read_config(run / "config.yaml")).dev
    rescored = load(run, "cpu").evaluate(dev)["f_macro"]
    assert rescored == pytest.approx(record["best"]["f_macro"])  # the weights are what the record says
    if committed == 0:
        assert not (run / "last.pt").exists()
        return
    last = checkpoint.load(run, rundir.read_config(run / "config.yaml").train.epochs)
    assert last["epoch"] == committed
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in last["epochs"]] == rows[:committed]
    assert last["best_epoch"] == best_before(reference["metrics"], committed)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert len(metrics["epochs"]) in (committed - 1, committed)  # a kill before its write: one behind


@pytest.mark.parametrize("point, epoch", [
    ("model.pt", None),  # half of model.pt written
    ("weights", None),  # model.pt saved, last.pt not: model.pt is an epoch ahead
    ("last.pt", None),  # half of last.pt written
    ("metrics", None),  # last.pt saved, metrics.json not yet
    ("epoch", None),  # everything saved, the next epoch not begun
    ("weights", 1),  # before the first checkpoint: the resume starts over
])
def test_kill_during_a_save_leaves_a_consistent_run_that_resumes(reference, tmp_path, point, epoch):
    epoch = epoch or reference["epoch"]  # an epoch that improves: it saves model.pt
    out = tmp_path / "runs"
    code = stop_when_paused(f"{point}:{epoch}", tmp_path, "train", "--config", str(reference["config"]),
                            "--output-dir", str(out), *STATEFUL)
    assert code == -signal.SIGKILL
    (run,) = out.iterdir()
    assert (run / "INCOMPLETE").is_file()
    assert bool(list(run.glob(".*.tmp"))) == (point in ("model.pt", "last.pt"))  # killed mid-write
    assert_consistent(run, reference, epoch, point)

    resumed = run_cli("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert not (run / "INCOMPLETE").exists() and not list(run.glob(".*.tmp"))
    final = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert without_times(final) == without_times(reference["metrics"])
    assert weights.load_record(run / "model.pt")["best_epoch"] == final["best_epoch"]


def test_ctrl_c_after_a_checkpoint_exits_130_with_a_usable_incomplete_run(reference, tmp_path):
    """A real SIGINT (not the test's KeyboardInterrupt) once epoch 1 is saved."""
    out = tmp_path / "runs"
    code = stop_when_paused("epoch:1", tmp_path, "train", "--config", str(reference["config"]),
                            "--output-dir", str(out), *STATEFUL, sig=signal.SIGINT)
    assert code == 130
    (run,) = out.iterdir()
    assert "interrupted after epoch 1" in (run / "INCOMPLETE").read_text(encoding="utf-8")
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["interrupted"] and metrics["best_epoch"] == 1
    report = run_cli("report", str(run))
    assert report.returncode == 0 and "(incomplete)" in report.stdout and "incomplete run" in report.stderr


# --------------------------------------------------------------------------------------
# --seeds / --folds groups


def summary_numbers(group: Path) -> dict:
    """A group's metrics.json minus what differs between two groups: paths and timings."""
    summary = json.loads((group / "metrics.json").read_text(encoding="utf-8"))
    return {k: v for k, v in summary.items() if k not in ("members", "seconds")}


def only_group(out: Path, kind: str) -> Path:
    (group,) = [p for p in out.iterdir() if kind in p.name]
    return group


def test_seed_group_cut_in_its_second_member_resumes_to_the_same_ensemble(reference, tmp_path):
    config = str(reference["config"])
    whole = run_cli("train", "--config", config, "--seeds", "2", "--output-dir", str(tmp_path / "a"))
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "b"
    log = tmp_path / "cut.txt"
    cut = start("train", "--config", config, "--seeds", "2", "--output-dir", str(out),
                env={INTERRUPT: "seed4/1"}, log=log)  # a Ctrl-C in member 2 (train.seed 3 + 1)
    assert cut.wait(timeout=300) == 130, log.read_text(encoding="utf-8")
    group = only_group(out, "ensemble2")
    message = log.read_text(encoding="utf-8")
    assert "ensembles the 2 of 2 seeds trained so far (the last cut short)" in message
    assert f"continue with: sentinet train --resume {group}" in message
    assert (group / "INCOMPLETE").is_file() and (group / "seed4" / "INCOMPLETE").is_file()
    assert not (group / "seed3" / "INCOMPLETE").exists()
    members = json.loads((group / "ensemble.json").read_text(encoding="utf-8"))["members"]
    assert members == ["seed3", "seed4"]  # usable as it is: the finished member and the cut one
    finished_member = (group / "seed3" / "model.pt").stat().st_mtime_ns

    resumed = run_cli("train", "--resume", str(group))
    assert resumed.returncode == 0, resumed.stderr
    assert "over 2 seeds" in resumed.stdout
    assert not list(group.rglob("INCOMPLETE"))
    assert (group / "seed3" / "model.pt").stat().st_mtime_ns == finished_member  # not trained again
    assert "resuming after epoch 1" in (group / "seed4" / "train.log").read_text(encoding="utf-8")
    assert summary_numbers(group) == summary_numbers(only_group(tmp_path / "a", "ensemble2"))


def test_fold_group_killed_mid_checkpoint_resumes_to_the_same_scores(reference, tmp_path):
    config = str(reference["config"])
    whole = run_cli("train", "--config", config, "--folds", "2", "--output-dir", str(tmp_path / "a"))
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "b"
    code = stop_when_paused("fold1/last.pt:2", tmp_path, "train", "--config", config, "--folds", "2",
                            "--output-dir", str(out))
    assert code == -signal.SIGKILL
    group = only_group(out, "folds2")
    assert (group / "INCOMPLETE").is_file() and not (group / "ensemble.json").exists()
    assert list((group / "fold1").glob(".*.tmp"))
    ev = run_cli("eval", str(group), str(reference["test"]))
    assert ev.returncode == 2 and "incomplete run" in ev.stderr and f"--resume {group}" in ev.stderr

    resumed = run_cli("train", "--resume", str(group))
    assert resumed.returncode == 0, resumed.stderr
    assert not list(group.rglob("INCOMPLETE")) and not list(group.rglob(".*.tmp"))
    assert summary_numbers(group) == summary_numbers(only_group(tmp_path / "a", "folds2"))
