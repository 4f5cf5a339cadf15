"""Hostile and broken run state, data and study settings through the CLI: damaged resume
files, labels that cannot make a classifier, streams that are gone, tune settings that cannot
work. The same contract as test_hostile.py: exit 2, one ``error:`` line naming the file or key
and what to do, no traceback, bounded time and memory, and nothing already written damaged.
Add a case to a table below to extend the battery.
"""

from __future__ import annotations

import json
import resource
import shutil
from pathlib import Path

import pytest
import torch

from ..fault_launcher import INTERRUPT
from ..helpers import assert_one_line_error, run_cli, snapshot, tiny_project

GB = 1024 ** 3


def capped(gigabytes: float = 4):
    """A preexec_fn capping the child's address space: a regression that tries to allocate
    terabytes fails fast instead of swapping the machine to death."""
    limit = int(gigabytes * GB)
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# --------------------------------------------------------------------------------------
# --resume on damaged run state


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A 3-epoch run stopped by a Ctrl-C after epoch 1: incomplete, with a last.pt to resume."""
    data, config = tiny_project(tmp_path_factory.mktemp("stopped"))
    result = run_cli("train", "--config", str(config), "--set", "train.epochs=3",
                     env={INTERRUPT: "1"}, faults=True)
    assert result.returncode == 130, result.stderr
    (run,) = (data["dir"] / "runs").iterdir()
    return run


def _set(key, value):
    return lambda state: state.__setitem__(key, value)


# how last.pt is damaged (and the error's words, when not "damaged checkpoint"); every one is
# refused naming last.pt, before anything is written
DAMAGED_CHECKPOINTS = {
    "no model": lambda state: state.pop("model"),
    "no optimizers": lambda state: state.pop("optimizers"),
    "model not a dict": _set("model", [1, 2]),
    "model of non-tensors": (_set("model", {"embedder.pretrained.weight": 1}), "not a sentinet weights file"),
    "bad sampler state": _set("sampler", torch.zeros(3, dtype=torch.uint8)),
    "bad rng state": _set("rng", torch.zeros(3, dtype=torch.uint8)),
    "optimizer state of another model": _set("optimizers", [{"state": {}, "param_groups": []}]),
    "epoch -5": _set("epoch", -5),
    "epoch 0": _set("epoch", 0),
    "epoch beyond train.epochs": _set("epoch", 99),
    "epoch a string": _set("epoch", "2"),
    "epoch a float": _set("epoch", 1.0),
    "epoch true": _set("epoch", True),
    "best_epoch after epoch": _set("best_epoch", 7),
    "epoch records short": _set("epochs", []),
}


@pytest.mark.parametrize("case", list(DAMAGED_CHECKPOINTS))
def test_resume_refuses_a_damaged_checkpoint(stopped_run, tmp_path, case):
    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    state = torch.load(run / "last.pt", weights_only=True)
    damage, fragment = DAMAGED_CHECKPOINTS[case] if isinstance(DAMAGED_CHECKPOINTS[case], tuple) \
        else (DAMAGED_CHECKPOINTS[case], "damaged checkpoint")
    damage(state)
    torch.save(state, run / "last.pt")
    before = snapshot(run)
    result = run_cli("train", "--resume", str(run), timeout=120)
    assert_one_line_error(result, "last.pt", fragment)
    assert snapshot(run) == before


def test_deleting_a_damaged_checkpoint_starts_the_run_over(stopped_run, tmp_path):
    """What the error says to do works: the run trains again from its first epoch."""
    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    (run / "last.pt").unlink()
    result = run_cli("train", "--resume", str(run), timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(json.loads((run / "metrics.json").read_text(encoding="utf-8"))["epochs"]) == 3
    assert not (run / "INCOMPLETE").exists()


@pytest.mark.parametrize("plan", [
    {"kind": "seeds", "count": 0}, {"kind": "seeds", "count": -3}, {"kind": "folds", "count": "3"},
    {"kind": "folds", "count": 2.5}, {"kind": "seeds", "count": True}, {"kind": "seeds", "count": 10 ** 12},
    {"kind": "seeds"}, {"kind": "bagging", "count": 3}, [3],
], ids=["0", "-3", "string", "float", "true", "huge", "no count", "unknown kind", "not an object"])
def test_resume_refuses_a_damaged_group_plan(stopped_run, tmp_path, plan):
    group = tmp_path / "group"
    group.mkdir()
    shutil.copy(stopped_run / "config.yaml", group / "config.yaml")
    (group / "group.json").write_text(json.dumps(plan), encoding="utf-8")
    before = snapshot(group)
    result = run_cli("train", "--resume", str(group), timeout=120, preexec_fn=capped())
    assert_one_line_error(result, "group.json")
    assert snapshot(group) == before
