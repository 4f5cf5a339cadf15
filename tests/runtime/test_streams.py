"""sentinet/runtime/streams.py: input split at \\n only (a file and standard input), the lines
read counted, an input of blank lines refused in one line, output to a file that appears whole
or to standard output, and standard output closed, unwritable or left by its reader."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

import pytest

from sentinet.errors import SentinetError
from sentinet.runtime.streams import (
    CountedLines, Stdout, input_stream, not_empty, output_stream, reader_may_leave,
)

MIXED = "первая\r\nвторая с \r внутри\nтретья"  # CRLF ends a line; a bare CR is inside a text
LINES = ["первая\r\n", "вторая с \r внутри\n", "третья"]


@contextlib.contextmanager
def recorded_dup2():
    """os.open of /dev/null and os.dup2 onto it recorded, not done (fd 1 is pytest's capture);
    only inside the block, so pytest's own capture calls outside it are untouched."""
    calls: list[tuple[int, int]] = []
    real_open, real_dup2 = os.open, os.dup2

    def fake_open(path, flags, *args):
        return DEVNULL if path == os.devnull else real_open(path, flags, *args)

    def fake_dup2(fd, fd2, *args):
        return calls.append((fd, fd2)) if fd == DEVNULL else real_dup2(fd, fd2, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "open", fake_open)
        patch.setattr(os, "dup2", fake_dup2)
        yield calls


DEVNULL = -7  # the fd the fake os.open hands out for /dev/null


def stdin_from_pipe(data: bytes) -> io.TextIOWrapper:
    """A real pipe holding ``data``, as a text stream in an encoding input_stream must replace."""
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return io.TextIOWrapper(io.FileIO(read, "r"), encoding="latin-1")


# --------------------------------------------------------------------------------------
# Input


def test_a_file_is_read_as_utf8_split_at_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(MIXED.encode("utf-8"))
    with input_stream(str(path)) as f:
        assert list(f) == LINES
    assert f.closed  # the file is closed when the block ends


def test_standard_input_is_reconfigured_to_utf8_split_at_newlines_only(monkeypatch) -> None:
    stdin = stdin_from_pipe(MIXED.encode("utf-8"))
    monkeypatch.setattr(sys, "stdin", stdin)
    with input_stream("-") as f:
        assert f is stdin and stdin.encoding == "utf-8"
        assert list(f) == LINES
    assert not stdin.closed  # standard input is not ours to close
    stdin.close()


def test_standard_input_that_is_not_utf8_fails_strictly(monkeypatch) -> None:
    stdin = stdin_from_pipe("привет\n".encode("cp1251"))
    monkeypatch.setattr(sys, "stdin", stdin)
    with input_stream("-") as f, pytest.raises(UnicodeDecodeError):
        f.readline()
    stdin.close()


def test_a_missing_file_raises_at_open(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), input_stream(str(tmp_path / "missing.txt")):
        pass


def test_counted_lines_counts_lines_read_and_not_the_end() -> None:
    lines = CountedLines(io.StringIO("a\n\nb"))
    assert [lines.readline() for _ in range(5)] == ["a\n", "\n", "b", "", ""]
    assert lines.count == 3  # the empty reads at the end are no lines


def test_counted_lines_passes_the_size_limit_on() -> None:
    lines = CountedLines(io.StringIO("abcdef\n"))
    assert lines.readline(4) == "abcd" and lines.count == 1


# --------------------------------------------------------------------------------------
# not_empty


def counted(text: str) -> CountedLines:
    lines = CountedLines(io.StringIO(text))
    while lines.readline():
        pass
    return lines


@pytest.mark.parametrize("text, format, held", [
    ("\n\n\n", "lines", "3 blank lines"),
    ("\n", "lines", "1 blank line"),
    ("id,text\n", "csv", "the header and 0 blank lines"),
    ("id\ttext\n\n", "tsv", "the header and 1 blank line"),
    ("\n\n", "jsonl", "2 blank lines"),
])
def test_lines_without_a_text_are_one_line_error(text, format, held) -> None:
    with pytest.raises(SentinetError) as exc:
        not_empty([], counted(text), "in.txt", format)
    assert str(exc.value) == f"no texts in in.txt: {held}; nothing to predict"


def test_an_input_of_no_lines_stays_empty() -> None:
    assert list(not_empty(iter([]), counted(""), "-", "lines")) == []


def test_records_pass_through_whole_and_lazily() -> None:
    pulled = []

    def records():
        for r in ("a", "b", "c"):
            pulled.append(r)
            yield r

    out = not_empty(records(), counted("a\nb\nc\n"), "in.txt", "lines")
    assert pulled == ["a"]  # only the first, to know there is one
    assert list(out) == ["a", "b", "c"] and pulled == ["a", "b", "c"]


# --------------------------------------------------------------------------------------
# Output


def test_output_to_a_file_appears_whole_when_done(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with output_stream(path) as f:
        f.write("id,label\n")
        f.flush()
        assert not path.exists()  # written to a temp file beside it
    assert path.read_text(encoding="utf-8") == "id,label\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failed_output_keeps_what_the_file_held(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("before\n", encoding="utf-8")
    with pytest.raises(RuntimeError), output_stream(path) as f:
        f.write("half")
        raise RuntimeError("stop")
    assert path.read_text(encoding="utf-8") == "before\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_output_none_writes_to_standard_output(capsys) -> None:
    with output_stream(None) as out:
        assert isinstance(out, Stdout)
        assert out.write("a,b\n") == 4
        out.flush()
    assert capsys.readouterr().out == "a,b\n"


def test_a_closed_standard_output_is_one_line(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(SentinetError) as exc:
        Stdout()
    assert str(exc.value) == ("cannot write predictions to standard output (it is closed): give -o FILE, "
                              "or redirect it to a file or pipe")


def test_an_unwritable_standard_output_is_one_line(monkeypatch, tmp_path: Path) -> None:
    """fd 1 opened read-only (``1<file``): the write is buffered, the flush fails."""
    path = tmp_path / "readonly.txt"
    path.write_text("", encoding="utf-8")
    stdout = open(os.open(path, os.O_RDONLY), "w", encoding="utf-8")  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", stdout)
    out = Stdout()
    out.write("a,b\n")
    with recorded_dup2() as dup2_calls, pytest.raises(SentinetError) as exc:
        out.flush()
    assert str(exc.value) == ("cannot write predictions to standard output (Bad file descriptor): give -o "
                              "FILE, or redirect it to a file or pipe")
    assert dup2_calls == [(DEVNULL, 1)]  # fd 1 now /dev/null: what is still buffered cannot fail at exit
    monkeypatch.undo()
    with pytest.raises(OSError):
        stdout.close()


def test_a_reader_that_left_is_a_quiet_exit_0(monkeypatch) -> None:
    """``predict ... | head``: the pipe's reader is gone; the broken pipe passes through Stdout
    untouched and reader_may_leave makes it exit 0."""
    read, write = os.pipe()
    os.close(read)
    stdout = open(write, "w", encoding="utf-8")  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", stdout)
    out = Stdout()
    with recorded_dup2() as dup2_calls, pytest.raises(SystemExit) as exc, reader_may_leave():
        out.write("a,b\n")
        out.flush()
    assert exc.value.code == 0
    assert isinstance(exc.value.__context__, BrokenPipeError) and exc.value.__suppress_context__
    assert dup2_calls == [(DEVNULL, 1)]
    monkeypatch.undo()
    with pytest.raises(BrokenPipeError):
        stdout.close()


def test_a_broken_pipe_is_not_the_unwritable_error(monkeypatch) -> None:
    read, write = os.pipe()
    os.close(read)
    stdout = open(write, "w", encoding="utf-8")  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", stdout)
    out = Stdout()
    out.write("x")
    with recorded_dup2() as dup2_calls, pytest.raises(BrokenPipeError):
        out.flush()
    assert dup2_calls == []  # reader_may_leave's to handle, not Stdout's
    monkeypatch.undo()
    with pytest.raises(BrokenPipeError):
        stdout.close()


def test_reader_may_leave_lets_other_errors_through() -> None:
    with recorded_dup2() as dup2_calls:
        with pytest.raises(SentinetError, match="other"), reader_may_leave():
            raise SentinetError("other")
        with reader_may_leave():
            pass
    assert dup2_calls == []
