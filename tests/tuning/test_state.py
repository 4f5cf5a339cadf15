"""sentinet.tuning.state: RUNNING trials whose worker on this host has ended are marked FAIL
(tests/stories/test_hostile_runs.py covers it with a real dead process and SQLite)."""

from __future__ import annotations

import os
import socket

import optuna
import pytest
from optuna.trial import TrialState

from sentinet.tuning import state

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_worker_name_is_host_and_pid():
    assert state.worker_name() == f"{socket.gethostname()}:{os.getpid()}"


@pytest.fixture
def study(monkeypatch):
    """An in-memory study where only pids 100 and 101 are alive."""
    monkeypatch.setattr(state, "pid_alive", lambda pid: pid in (100, 101))
    return optuna.create_study(direction="maximize")


def test_only_this_hosts_trials_of_ended_processes_are_failed(study):
    host = socket.gethostname()
    workers = [f"{host}:100", f"{host}:200", "other-host:200", None, f"{host}:x1", f"{host}:", f"{host}:300"]
    for worker in workers:
        running = study.ask()
        if worker is not None:
            running.set_user_attr(state.WORKER, worker)
    assert state.fail_abandoned(study) == [1, 6]
    assert [t.state for t in study.get_trials()] == [
        TrialState.RUNNING, TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING, TrialState.RUNNING,
        TrialState.RUNNING, TrialState.FAIL]
    assert study.trials[1].user_attrs["error"] == "its worker process 200 ended without finishing it (killed?)"
    assert state.fail_abandoned(study) == []  # once failed, left alone


def test_a_host_name_with_colons_is_split_at_the_last_one(study, monkeypatch):
    monkeypatch.setattr(state.socket, "gethostname", lambda: "fe80::1")
    study.ask().set_user_attr(state.WORKER, "fe80::1:200")
    study.ask().set_user_attr(state.WORKER, "fe80::1:101")
    assert state.fail_abandoned(study) == [0]


def test_finished_trials_are_never_touched(study):
    host = socket.gethostname()
    done = study.ask()
    done.set_user_attr(state.WORKER, f"{host}:200")
    study.tell(done, 0.5)
    pruned = study.ask()
    pruned.set_user_attr(state.WORKER, f"{host}:200")
    study.tell(pruned, state=TrialState.PRUNED)
    assert state.fail_abandoned(study) == []
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    assert "error" not in study.trials[0].user_attrs
