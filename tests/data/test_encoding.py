"""sentinet.data.encoding: UTF-16 told apart from UTF-8 by its NULs, the UTF-8 error line, and
lone surrogates replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentinet.data.encoding import refuse_utf16, replaced_surrogates, utf8_error, utf16_encoding
from sentinet.errors import SentinetError

TWEET = "сбербанк спасибо, all fine :)"


def test_a_byte_order_mark_says_utf16():
    assert utf16_encoding(b"\xff\xfe" + "a".encode("utf-16-le")) == "UTF-16"
    assert utf16_encoding(b"\xfe\xff" + "a".encode("utf-16-be")) == "UTF-16"
    assert utf16_encoding(TWEET.encode("utf-16")) == "UTF-16"  # Python writes the mark


def test_nuls_at_only_odd_or_only_even_offsets_say_which_byte_order():
    assert utf16_encoding(TWEET.encode("utf-16-le")) == "UTF-16LE"
    assert utf16_encoding(TWEET.encode("utf-16-be")) == "UTF-16BE"
    assert utf16_encoding(b"x\0" * 8 + b"x" * 1000) == "UTF-16LE"  # 8 NULs in 1,016 bytes: enough


def test_utf8_and_stray_nuls_are_not_utf16():
    assert utf16_encoding(TWEET.encode("utf-8")) is None
    assert utf16_encoding(b"") is None
    assert utf16_encoding(b"\0" * 64) is None  # NULs at both parities: a run of them
    assert utf16_encoding(b"x" * 1023 + b"\0") is None  # one stray NUL in a KB: under 1 in 128 bytes
    # pure Cyrillic in UTF-16 has no NUL to tell by; tweets always have spaces or ASCII
    assert utf16_encoding("привет".encode("utf-16-le")) is None


def test_refuse_utf16_names_the_file_and_the_fix():
    path = Path("data/train.tsv")
    refuse_utf16(TWEET.encode("utf-8"), path)  # UTF-8: nothing to say
    with pytest.raises(SentinetError) as caught:
        refuse_utf16(TWEET.encode("utf-16-le"), path)
    assert str(caught.value) == ("data/train.tsv: looks like UTF-16LE (NUL bytes between the characters), "
                                 "not UTF-8; convert it, e.g. iconv -f UTF-16LE -t UTF-8 FILE > FILE.utf8")


def test_utf8_error_gives_the_byte_and_its_line():
    data = "строка\nвторая\n".encode("utf-8") + b"bad \xff here\n"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        error = utf8_error(Path("in.txt"), data, exc)
    assert isinstance(error, SentinetError)
    at = len("строка\nвторая\n".encode("utf-8")) + 4
    assert data[at] == 0xFF
    assert str(error) == f"in.txt: not valid UTF-8 at byte {at} (line 3)"


def test_lone_surrogates_become_replacement_characters():
    text = json.loads('"a\\ud83d b \\udc4d"')  # halves of an emoji, each alone
    assert replaced_surrogates(text) == "a\ufffd b \ufffd"
    replaced_surrogates(text).encode("utf-8")  # now writable
    whole = json.loads('"ok \\ud83d\\udc4d"')  # a pair is one character, not a surrogate
    assert replaced_surrogates(whole) == "ok 👍"
    assert replaced_surrogates(TWEET) == TWEET
