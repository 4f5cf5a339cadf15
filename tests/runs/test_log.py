"""sentinet.runs.log: a run's log, printed and kept in train.log, held until the run
directory exists, with control characters escaped."""

from __future__ import annotations

import os

import pytest

from sentinet.errors import SentinetError
from sentinet.runs.log import RunLog


def test_lines_before_the_folder_exists_are_kept_and_written_once_it_does(tmp_path, capsys):
    log = RunLog()
    log("reading data")
    log("vocabulary: 40 words")
    assert capsys.readouterr().out == "reading data\nvocabulary: 40 words\n"  # printed at once
    path = tmp_path / "train.log"
    assert not path.exists()
    log.attach(path)
    assert path.read_text(encoding="utf-8") == "reading data\nvocabulary: 40 words\n"
    log("epoch 1")
    assert path.read_text(encoding="utf-8") == "reading data\nvocabulary: 40 words\nepoch 1\n"
    assert capsys.readouterr().out == "epoch 1\n"


def test_a_log_never_attached_writes_nothing(tmp_path, capsys):
    log = RunLog()
    log("bad input")
    assert log.pending == ["bad input"] and log.path is None
    assert list(tmp_path.iterdir()) == []


def test_attach_appends_to_an_existing_log(tmp_path, capsys):
    """resume attaches to the train.log of the run it continues"""
    path = tmp_path / "train.log"
    path.write_text("epoch 1\n", encoding="utf-8")
    log = RunLog()
    log("resumed")
    log.attach(path)
    assert path.read_text(encoding="utf-8") == "epoch 1\nresumed\n"


def test_control_characters_are_escaped_and_line_breaks_kept(tmp_path, capsys):
    log = RunLog()
    log.attach(tmp_path / "train.log")
    log("run \x1b]0;title\x07 on data\u202e.xml\n| table | row |\r")
    expected = "run \\x1b]0;title\\x07 on data\\u202e.xml\n| table | row |\\r"
    assert (tmp_path / "train.log").read_text(encoding="utf-8") == expected + "\n"
    assert capsys.readouterr().out == expected + "\n"


def test_a_link_planted_at_train_log_is_never_written_through(tmp_path, capsys):
    target = tmp_path / "bashrc"
    target.write_text("untouched\n", encoding="utf-8")
    path = tmp_path / "train.log"
    path.symlink_to(target)
    log = RunLog()
    log("line")
    with pytest.raises(SentinetError, match=rf"^{path}: is a symbolic link, not a file of its own"):
        log.attach(path)
    assert target.read_text(encoding="utf-8") == "untouched\n"


def test_a_log_that_cannot_be_written_is_one_line_naming_it(tmp_path, capsys):
    path = tmp_path / "gone" / "train.log"  # its folder was removed under the run
    log = RunLog()
    with pytest.raises(SentinetError, match=rf"^{path}: cannot write \(No such file or directory\)$"):
        log.attach(path)


def test_a_folder_or_fifo_at_train_log_is_refused_without_blocking(tmp_path, capsys):
    folder, fifo = tmp_path / "a.log", tmp_path / "b.log"
    folder.mkdir()
    os.mkfifo(fifo)  # nobody reads it: a blocking open would wait forever
    for path, kind in ((folder, "a directory"), (fifo, "a FIFO")):
        with pytest.raises(SentinetError, match=rf"^{path}: is {kind}, not a file of its own; sentinet never "
                                                r"writes through it"):
            RunLog().attach(path)
