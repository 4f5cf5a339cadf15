"""sentinet.fileio: files sentinet names inside its own folders are never written through a
link, a hard link, a FIFO or a device; files a user names (-o FILE) are; run files are read
only when regular and bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentinet.errors import SentinetError
from sentinet.fileio import (
    atomic_write_text, check_own_tree, check_regular_file, open_append, read_own_bytes, read_own_text,
)

ORIGINAL = "ORIGINAL\n"


@pytest.fixture
def victim(tmp_path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(ORIGINAL, encoding="utf-8")
    return path


def plant(kind: str, path: Path, victim: Path) -> None:
    if kind == "symlink":
        path.symlink_to(victim)
    elif kind == "dangling":
        path.symlink_to(victim.parent / "nowhere.txt")
    elif kind == "hard link":
        os.link(victim, path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/null")


KINDS = {"symlink": "is a symbolic link", "dangling": "is a symbolic link", "hard link": "is a hard link",
         "fifo": "is a FIFO", "device": "is a symbolic link"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_own_file_is_never_written_through(tmp_path, victim, kind):
    target = tmp_path / "run" / "metrics.json"
    target.parent.mkdir()
    plant(kind, target, victim)
    with pytest.raises(SentinetError, match=KINDS[kind]) as err:
        atomic_write_text(target, "{}")
    assert str(target) in str(err.value)
    assert victim.read_text(encoding="utf-8") == ORIGINAL
    assert not (tmp_path / "nowhere.txt").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["metrics.json"]  # no temp file left


def test_a_link_planted_while_writing_is_not_followed(tmp_path, victim):
    """The name is checked again just before the rename: a link planted mid-write is refused."""
    target = tmp_path / "metrics.json"
    with pytest.raises(SentinetError, match="is a symbolic link"):
        from sentinet.fileio import atomic_open

        with atomic_open(target) as f:
            f.write("{}")
            plant("symlink", target, victim)
    assert victim.read_text(encoding="utf-8") == ORIGINAL


def test_a_plain_own_file_is_replaced(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old", encoding="utf-8")
    atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"


def test_a_file_the_user_named_is_written_through_its_symlink(tmp_path, victim):
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    atomic_write_text(link, "rows\n", named=True)
    assert link.is_symlink() and victim.read_text(encoding="utf-8") == "rows\n"


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_log_is_never_appended_through_a_plant(tmp_path, victim, kind):
    log = tmp_path / "train.log"
    plant(kind, log, victim)
    with pytest.raises(SentinetError, match=KINDS[kind]):  # a FIFO nobody reads: refused, not blocked
        with open_append(log) as f:
            f.write("line\n")
    assert victim.read_text(encoding="utf-8") == ORIGINAL


def test_the_log_is_created_then_appended(tmp_path):
    log = tmp_path / "train.log"
    for line in ("one\n", "two\n"):
        with open_append(log) as f:
            f.write(line)
    assert log.read_text(encoding="utf-8") == "one\ntwo\n"


def test_a_tree_with_a_nested_link_is_refused(tmp_path, victim):
    run = tmp_path / "group"
    (run / "seed1" / "tensorboard").mkdir(parents=True)
    (run / "seed1" / "metrics.json").write_text("{}", encoding="utf-8")
    check_own_tree(run)  # plain files and folders pass
    (run / "seed1" / "tensorboard" / "events").symlink_to(victim)
    with pytest.raises(SentinetError, match="tensorboard/events: is a symbolic link"):
        check_own_tree(run)


def test_a_tree_given_through_a_link_is_walked(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "train.log").write_text("x", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "run", target_is_directory=True)
    check_own_tree(tmp_path / "link")


def test_run_files_are_read_only_when_regular_and_bounded(tmp_path):
    with pytest.raises(SentinetError, match="is a character device"):
        read_own_bytes(Path("/dev/zero"))
    with pytest.raises(SentinetError, match="is a character device"):
        check_regular_file(Path("/dev/zero"))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SentinetError, match="is a FIFO"):  # opened without blocking, then refused
        read_own_bytes(fifo)
    big = tmp_path / "metrics.json"
    big.write_bytes(b"x" * 101)
    with pytest.raises(SentinetError, match="over 100 bytes"):
        read_own_bytes(big, limit=100)
    assert read_own_bytes(big, limit=101) == b"x" * 101
    big.write_bytes(b"\xff")
    with pytest.raises(SentinetError, match="not valid UTF-8"):
        read_own_text(big)
