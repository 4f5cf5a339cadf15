"""``train --resume`` on a finished run or group (issue 31, item 8): it used to re-score dev,
rewrite metrics.json and train.log, exit 0 and, with ``train.baseline: true``, fit one more
baseline directory each time. A finished run stays as it finished: one ``error:`` line, exit 2,
every byte under the output folder as it was, from the CLI and from ``sentinet.train``."""

from __future__ import annotations

from pathlib import Path

import pytest

import sentinet
from sentinet.errors import SentinetError

from ..helpers import assert_one_line_error, run_cli, snapshot, tiny_project


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, Path]:
    """A finished one-epoch run with its baseline beside it, and a finished 2-seed group.
    Keys: root (everything is under it), run, group."""
    data, config = tiny_project(tmp_path_factory.mktemp("finished"))
    one_epoch = ["--config", str(config), "--set", "train.epochs=1"]
    run = run_cli("train", *one_epoch, "--set", "train.baseline=true", "--output-dir", str(data["dir"] / "runs"))
    assert run.returncode == 0, run.stderr
    group = run_cli("train", *one_epoch, "--seeds", "2", "--output-dir", str(data["dir"] / "groups"))
    assert group.returncode == 0, group.stderr
    (neural,) = [p for p in (data["dir"] / "runs").iterdir() if "-baseline-" not in p.name]
    (ensemble,) = (data["dir"] / "groups").iterdir()
    assert (neural / "last.pt").is_file()  # a finished run keeps it: the INCOMPLETE note decides
    return {"root": data["dir"], "run": neural, "group": ensemble}


def test_a_finished_run_is_refused_and_left_as_it_finished(finished):
    run, before = finished["run"], snapshot(finished["root"])
    result = run_cli("train", "--resume", str(run))
    assert_one_line_error(result, f"{run}: a finished run cannot be resumed; nothing in it was changed",
                          f"sentinet train --config {run / 'config.yaml'} --set model.init_from={run} "
                          "--set train.epochs=N")
    assert result.stdout == ""
    assert snapshot(finished["root"]) == before  # no rewritten file, no new baseline directory


def test_the_python_api_refuses_it_with_the_same_line(finished):
    run, before = finished["run"], snapshot(finished["root"])
    with pytest.raises(SentinetError) as refused:
        sentinet.train(resume=run)
    cli = run_cli("train", "--resume", str(run))
    assert cli.stderr.strip() == f"error: {refused.value}"
    assert snapshot(finished["root"]) == before


def test_a_finished_group_and_its_members_are_refused(finished):
    group, before = finished["group"], snapshot(finished["root"])
    assert_one_line_error(run_cli("train", "--resume", str(group)),
                          f"{group}: a finished group of 2 seeds cannot be resumed",
                          f"sentinet train --config {group / 'config.yaml'} --seeds 2 --set train.epochs=N")
    assert_one_line_error(run_cli("train", "--resume", str(group / "seed3")),
                          "a finished run cannot be resumed", f"model.init_from={group / 'seed3'}")
    assert snapshot(finished["root"]) == before
