"""Trials a killed worker left behind. Optuna marks a trial finished only from the process
running it, so a worker killed with SIGKILL (or by the OOM killer, or a machine's power)
leaves its trial RUNNING forever: the summary shows it running, a grid counts its point as
taken. Each trial records its worker (``host:pid``, see tuning.objective); on start and on
every resume, RUNNING trials of this host whose process is gone are marked FAIL, with why.
Trials of other hosts are left alone: from here, nothing says whether they still run.
"""

from __future__ import annotations

import os
import socket

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from sentinet.fileio import pid_alive

WORKER = "worker"  # the user attr naming the trial's process: "host:pid"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_abandoned(study: optuna.Study) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker process on this host has ended; returns
    their numbers."""
    host, failed = socket.gethostname(), []
    storage = study._storage  # optuna's public API finishes only trials this process runs
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get(WORKER, "")).rpartition(":")
        if worker_host != host or not (pid.isascii() and pid.isdigit()) or pid_alive(int(pid)):
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "error", f"its worker process {pid} ended "
                                        "without finishing it (killed?)")
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            continue  # finished after all, meanwhile
        failed.append(trial.number)
    return failed
