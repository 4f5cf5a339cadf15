"""sentinet.runs.provenance: what produced a run (versions and the git commit)."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import tomllib
import types
from importlib import metadata
from pathlib import Path

import pytest

import sentinet
from sentinet.runs import provenance

ROOT = Path(__file__).resolve().parents[2]


def fake_git(monkeypatch, commit: str = "0123456789ab", status: str = "", fail: Exception | None = None):
    """subprocess.run as git would answer: rev-parse, then status --porcelain."""
    calls = []

    def run(command, **kwargs):
        calls.append((command, kwargs))
        if fail is not None:
            raise fail
        out = commit if command[1] == "rev-parse" else status
        return subprocess.CompletedProcess(command, 0, stdout=out + "\n", stderr="")

    monkeypatch.setattr(provenance.subprocess, "run", run)
    return calls


def test_the_version_is_the_package_and_pyproject_one():
    assert provenance.__version__ == sentinet.__version__
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == provenance.__version__


def test_a_clean_checkout_gives_the_short_commit(monkeypatch):
    calls = fake_git(monkeypatch)
    assert provenance.git_commit() == "0123456789ab"
    assert [c[0][:2] for c in calls] == [["git", "rev-parse"], ["git", "status"]]
    assert "--untracked-files=no" in calls[1][0]  # a stray file is no change to the code
    assert all(c[1]["cwd"] == Path(provenance.__file__).resolve().parent and c[1]["timeout"] == 5 for c in calls)


def test_uncommitted_changes_are_marked_dirty(monkeypatch):
    fake_git(monkeypatch, status=" M sentinet/labels.py")
    assert provenance.git_commit() == "0123456789ab+dirty"


@pytest.mark.parametrize("failure", [FileNotFoundError(2, "git"), subprocess.CalledProcessError(128, "git"),
                                     subprocess.TimeoutExpired("git", 5)])
def test_no_git_or_no_checkout_gives_none(monkeypatch, failure):
    fake_git(monkeypatch, fail=failure)
    assert provenance.git_commit() is None


def test_torch_version_prefers_the_loaded_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(__version__="9.9.9"))
    assert provenance.torch_version() == "9.9.9"


def test_torch_version_without_importing_torch(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert provenance.torch_version() == metadata.version("torch")
    assert "torch" not in sys.modules  # asked the installed distribution, imported nothing

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert provenance.torch_version() is None


def test_versions_records_all_four(monkeypatch):
    fake_git(monkeypatch)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(__version__="2.0.0"))
    assert provenance.versions() == {"sentinet": provenance.__version__, "torch": "2.0.0",
                                     "python": platform.python_version(), "git": "0123456789ab"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", provenance.versions()["python"])
