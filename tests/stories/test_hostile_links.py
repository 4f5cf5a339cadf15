"""Links and special files planted in a run directory someone hands you ("here is my
half-trained run, resume it"): ``sentinet train --resume`` must never write through them, and
commands that read a run must never read one without end. Each case: exit 2, one ``error:``
line naming the file, no traceback, and the file outside the run unchanged.

Add a file name to RESUME_WRITES, or a kind to PLANTS, to extend the battery.
"""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

import pytest

from ..fault_launcher import INTERRUPT
from ..helpers import assert_one_line_error, run_cli, study_files, tiny_project

GB = 1024 ** 3
ORIGINAL = "ORIGINAL\n"

# Every file a resumed run writes (or rewrites, or appends to) in its directory.
RESUME_WRITES = ["metrics.json", "train.log", "INCOMPLETE", "last.pt", "model.pt", "metrics.csv",
                 "dev_predictions.json", "config.yaml", "vocab.json"]


def capped(gigabytes: float = 2):
    """Cap the child's address space: a regression that reads /dev/zero fails fast."""
    limit = int(gigabytes * GB)
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A 3-epoch run stopped by a Ctrl-C after epoch 1: incomplete, with a last.pt to resume."""
    data, config = tiny_project(tmp_path_factory.mktemp("stopped"))
    result = run_cli("train", "--config", str(config), "--set", "train.epochs=3", env={INTERRUPT: "1"},
                     faults=True)
    assert result.returncode == 130, result.stderr
    (run,) = (data["dir"] / "runs").iterdir()
    return run


@pytest.fixture
def victim(tmp_path) -> Path:
    """The file outside the run that a planted link points at (think ~/.bashrc)."""
    folder = tmp_path / "outside"
    folder.mkdir()
    path = folder / "victim.txt"
    path.write_text(ORIGINAL, encoding="utf-8")
    return path


def _symlink(path: Path, victim: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to(victim)


def _hardlink(path: Path, victim: Path) -> None:
    path.unlink(missing_ok=True)
    os.link(victim, path)


def _dangling(path: Path, victim: Path) -> None:
    path.unlink(missing_ok=True)
    victim.unlink()
    path.symlink_to(victim)  # resume would create the victim outside the run


def _device(path: Path, victim: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/null")


def _fifo(path: Path, victim: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)  # nobody reads it: opening it to write would block forever


PLANTS = {"symlink": (_symlink, "is a symbolic link"), "hard link": (_hardlink, "is a hard link"),
          "dangling symlink": (_dangling, "is a symbolic link"), "link to a device": (_device, "is a symbolic link"),
          "fifo": (_fifo, "is a FIFO")}
CASES = [(name, kind) for name in RESUME_WRITES
         for kind in ("symlink", "hard link", "dangling symlink", "link to a device")]
CASES += [(name, "fifo") for name in ("metrics.json", "train.log", "INCOMPLETE")]


@pytest.mark.parametrize("name, kind", CASES, ids=[f"{n} {k}" for n, k in CASES])
def test_resume_never_writes_through_a_planted_file(stopped_run, tmp_path, victim, name, kind):
    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    plant, words = PLANTS[kind]
    plant(run / name, victim)
    result = run_cli("train", "--resume", str(run), preexec_fn=capped(), timeout=120)
    assert_one_line_error(result, name, words)
    if kind == "dangling symlink":
        assert not victim.exists()
    else:
        assert victim.read_text(encoding="utf-8") == ORIGINAL
    assert sorted(p.name for p in victim.parent.iterdir()) == ([] if kind == "dangling symlink" else ["victim.txt"])


@pytest.mark.parametrize("where", ["tensorboard", "seed-folder"])
def test_resume_refuses_a_folder_link_that_leads_outside(stopped_run, tmp_path, victim, where):
    """A planted folder link (tensorboard/ -> ~/.ssh) would take new files outside the run."""
    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    (run / where).symlink_to(victim.parent, target_is_directory=True)
    result = run_cli("train", "--resume", str(run), timeout=120)
    assert_one_line_error(result, where, "is a symbolic link")
    assert [p.name for p in victim.parent.iterdir()] == ["victim.txt"]


def test_a_run_directory_given_as_a_link_still_resumes(stopped_run, tmp_path):
    """The folder itself may be a link the user made (runs/ on a bigger disk): only what is
    inside it must be the run's own."""
    run = Path(shutil.copytree(stopped_run, tmp_path / "run"))
    link = tmp_path / "link"
    link.symlink_to(run, target_is_directory=True)
    result = run_cli("train", "--resume", str(link), timeout=300)
    assert result.returncode == 0, result.stderr
    assert not (run / "INCOMPLETE").exists() and (run / "model.pt").is_file()


@pytest.mark.parametrize("command", ["report", "predict"])
def test_a_run_file_linked_to_dev_zero_is_one_line(quick_run, tmp_path, command):
    """``report`` on a run whose metrics.json links to /dev/zero read 3.7 GB, then a
    MemoryError traceback; run files are read only when they are regular files."""
    run = Path(shutil.copytree(quick_run["run"], tmp_path / "run"))
    target = "metrics.json" if command == "report" else "vocab.json"
    (run / target).unlink()
    (run / target).symlink_to("/dev/zero")
    lines = tmp_path / "in.txt"
    lines.write_text("хорошо\n", encoding="utf-8")
    args = [command, str(run)] + ([str(lines)] if command == "predict" else [])
    assert_one_line_error(run_cli(*args, preexec_fn=capped(), timeout=120), target, "character device")


def test_a_run_file_that_is_a_fifo_does_not_block(quick_run, tmp_path):
    """A FIFO nobody writes to, as model.pt: refused at once instead of a load that never ends."""
    run = Path(shutil.copytree(quick_run["run"], tmp_path / "run"))
    (run / "model.pt").unlink()
    os.mkfifo(run / "model.pt")
    lines = tmp_path / "in.txt"
    lines.write_text("хорошо\n", encoding="utf-8")
    assert_one_line_error(run_cli("predict", str(run), str(lines), timeout=120), "model.pt", "FIFO")


def test_export_refuses_a_run_file_linked_outside(quick_run, tmp_path, victim):
    """A run's metrics.json linked to a secret would travel inside the archive someone sends on."""
    run = Path(shutil.copytree(quick_run["run"], tmp_path / "run"))
    (run / "metrics.json").unlink()
    (run / "metrics.json").symlink_to(victim)
    out = tmp_path / "out.tar.gz"
    assert_one_line_error(run_cli("export", str(run), str(out), timeout=120), "metrics.json", "is a symbolic link")
    assert not out.exists()


@pytest.mark.parametrize("planted", ["study.db", "best.yaml", "trials"])
def test_tune_refuses_a_study_folder_with_a_planted_link(tmp_path, victim, planted):
    """A study folder passed on ("go on tuning this") is written like a run: study.db, the
    summary files and trials/ must not lead outside it."""
    data, _ = tiny_project(tmp_path)
    study = study_files(data, "train.optimizer.lr: {type: float, low: 0.001, high: 0.01, log: true}\n")
    study["dir"].mkdir(parents=True)
    (study["dir"] / planted).symlink_to(victim.parent if planted == "trials" else victim)
    result = run_cli("tune", "--config", str(study["base"]), "--space", str(study["space"]),
                     "--output-dir", str(study["out"]), "--trials", "1", timeout=120)
    assert_one_line_error(result, planted, "is a symbolic link")
    assert victim.read_text(encoding="utf-8") == ORIGINAL
    assert [p.name for p in victim.parent.iterdir()] == ["victim.txt"]
