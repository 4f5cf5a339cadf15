"""sentinet.data.vectors_files, its pieces on their own: what is no file, library failures in
sentinet's words, a quiet logger, and the word2vec header bound for text and binary rows
(tests/data/tests/data/test_embeddings.py covers lying headers and fastText files through open_vectors)."""

from __future__ import annotations

import gzip
import logging
import struct

import pytest

from sentinet.data.vectors_files import BadFile, cause, check_word2vec_header, quiet, special_file_problem


def test_a_regular_or_missing_file_has_no_special_problem(tmp_path):
    regular = tmp_path / "v.txt"
    regular.write_text("1 1\na 0\n", encoding="utf-8")
    assert special_file_problem(regular) is None
    assert special_file_problem(tmp_path / "missing.txt") is None  # missing: the caller says so
    assert special_file_problem(regular / "below-a-file.txt") is None  # NotADirectoryError: missing too
    link = tmp_path / "link.txt"
    link.symlink_to(regular)
    assert special_file_problem(link) is None  # a link to a regular file is fine


def test_kernel_folders_are_refused_by_name_without_a_stat(tmp_path):
    assert special_file_problem("/proc/nonexistent-entry") == "is in /proc, a kernel interface, not a vectors file"
    assert special_file_problem("/sys/x/y") == "is in /sys, a kernel interface, not a vectors file"
    link = tmp_path / "env.txt"
    link.symlink_to("/proc/self/environ")
    assert special_file_problem(link) == "is in /proc, a kernel interface, not a vectors file"
    assert special_file_problem(tmp_path / "proc") is None  # a folder named proc elsewhere is no kernel's
    assert special_file_problem(tmp_path) == "is a directory, not a vectors file"


@pytest.mark.parametrize("exc, words", [
    (EOFError("Compressed file ended"), "it ends early: a truncated or damaged file"),
    (struct.error("unpack requires a buffer of 4 bytes"), "it ends early: a truncated or damaged file"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "it is not UTF-8 where words should be"),
    (MemoryError(), "it does not fit in memory"),
    (NotImplementedError("no"), "gensim cannot read this variant"),
    (FileNotFoundError(2, "No such file or directory"), "No such file or directory"),
    (OSError("bare"), "malformed content: OSError"),  # no strerror: nothing to quote
    (ValueError("could not convert string to float: 'hunter2'"), "malformed content: ValueError"),
])
def test_cause_never_quotes_the_library_message(exc, words):
    assert cause(exc) == words
    assert "hunter2" not in cause(exc)


def test_quiet_disables_a_logger_and_restores_it_even_on_an_error():
    logger = logging.getLogger("sentinet-test-quiet")
    logger.disabled = False
    with pytest.raises(RuntimeError):
        with quiet("sentinet-test-quiet"):
            assert logger.disabled
            raise RuntimeError
    assert logger.disabled is False
    logger.disabled = True
    with quiet("sentinet-test-quiet"):
        pass
    assert logger.disabled is True  # it was off before: it stays off


def test_a_text_row_needs_two_bytes_a_value_and_a_binary_one_four_and_a_space(tmp_path):
    """The same 10 bytes hold one text row of dimension 2, never one binary row (9 bytes
    after a 4-byte header is more than the 6 left)."""
    path = tmp_path / "v"
    path.write_bytes(b"1 2\na 1 2\n")
    check_word2vec_header(path, binary=False)
    with pytest.raises(BadFile, match=r"^its header claims 1 rows of dimension 2, more than its 10 bytes can hold"):
        check_word2vec_header(path, binary=True)
    path.write_bytes(b"1 2\na " + bytes(8))
    check_word2vec_header(path, binary=True)


def test_a_gzipped_file_is_sized_by_what_it_can_inflate_to(tmp_path):
    """A .gz header is read inflated, and the room is the compressed size times 1032."""
    rows = 3000
    text = f"{rows} 1\n" + "".join(f"w{i} 0\n" for i in range(rows))
    path = tmp_path / "v.txt.gz"
    path.write_bytes(gzip.compress(text.encode(), 9))
    check_word2vec_header(path, binary=False)
    path.write_bytes(gzip.compress(b"999999999 1\n"))
    with pytest.raises(BadFile, match=r"claims 999,999,999 rows of dimension 1, more than its \d+ bytes"):
        check_word2vec_header(path, binary=False)


@pytest.mark.parametrize("head", [b"", b"\n", b"300\n", b"a b\n", b"1 2 3\n", b"\xff\xfe 1\n", b"1.5 2\n"])
def test_a_first_line_that_is_no_header_is_named_as_such(tmp_path, head):
    path = tmp_path / "v.txt"
    path.write_bytes(head + b"a 1\n")
    with pytest.raises(BadFile) as caught:
        check_word2vec_header(path, binary=False)
    assert str(caught.value) == ("its first line is not a '<rows> <dim>' header; set vectors.format if it "
                                 "is in another format")
