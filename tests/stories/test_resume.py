"""Ctrl-C and --resume as a user meets them: exit 130, a usable run, and a resumed run that
ends with the same numbers as one that never stopped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ..helpers import tiny_config_yaml
from .. import helpers
from ..helpers import STATEFUL, without_times
from ..fault_launcher import INTERRUPT
from ..helpers import assert_one_line_error


def run_cli(*args: str, interrupt_after: int | None = None) -> subprocess.CompletedProcess:
    """The CLI; with ``interrupt_after``, a Ctrl-C once that epoch is saved (the fault launcher)."""
    if interrupt_after is None:
        return helpers.run_cli(*args)
    return helpers.run_cli(*args, env={INTERRUPT: str(interrupt_after)}, faults=True)


@pytest.fixture
def config(tiny_data) -> Path:
    path = tiny_data["dir"] / "tiny.yaml"
    path.write_text(tiny_config_yaml(tiny_data), encoding="utf-8")
    return path


def test_interrupted_then_resumed_equals_uninterrupted(config, tiny_data):
    whole = run_cli("train", "--config", str(config), "--output-dir", str(tiny_data["dir"] / "a"), *STATEFUL)
    assert whole.returncode == 0, whole.stderr
    (reference,) = (tiny_data["dir"] / "a").iterdir()

    cut = run_cli("train", "--config", str(config), "--output-dir", str(tiny_data["dir"] / "b"), *STATEFUL,
                  interrupt_after=2)
    assert cut.returncode == 130, cut.stderr
    (run,) = (tiny_data["dir"] / "b").iterdir()
    assert f"continue with: sentinet train --resume {run}" in cut.stderr
    cut_metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert cut_metrics["interrupted"] and len(cut_metrics["epochs"]) == 2
    assert (run / "model.pt").is_file() and (run / "last.pt").is_file()
    usable = run_cli("eval", str(run), str(tiny_data["test"]), "--json")  # the cut run is usable as it is
    assert usable.returncode == 0, usable.stderr

    resumed = run_cli("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    expected = json.loads((reference / "metrics.json").read_text(encoding="utf-8"))
    assert len(final["epochs"]) == 5 and not final["interrupted"]
    assert without_times(final) == without_times(expected)
    assert "resuming after epoch 2" in (run / "train.log").read_text(encoding="utf-8")


def test_resume_refuses_what_it_cannot_continue(config, tiny_data):
    assert_one_line_error(run_cli("train", "--resume", str(tiny_data["dir"])), "not a sentinet run directory")
    done = run_cli("train", "--config", str(config), "--output-dir", str(tiny_data["dir"] / "r"))
    assert done.returncode == 0, done.stderr
    (run,) = (tiny_data["dir"] / "r").iterdir()
    assert_one_line_error(run_cli("train", "--resume", str(run), "--set", "train.epochs=9"),
                          "--resume continues a run as it was configured")
    # (a finished run is refused: test_resume_finished.py); a kill -9 leaves the note, and last.pt is read
    (run / "INCOMPLETE").write_text("training has not finished\n", encoding="utf-8")
    (run / "last.pt").write_bytes(b"truncated")
    assert_one_line_error(run_cli("train", "--resume", str(run)), "last.pt: not a sentinet checkpoint")
    (run / "last.pt").unlink()
    (run / "INCOMPLETE").unlink()
    assert_one_line_error(run_cli("train", "--resume", str(run)), "a finished run (no last.pt to resume from)",
                          f"--set model.init_from={run}")
