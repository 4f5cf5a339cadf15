"""sentinet.errors: the exception types, and how a message is kept to one printable line."""

from __future__ import annotations

import pytest

from sentinet.errors import Interrupted, SentinetError, UnsafeFileError, one_line, printable, shortened


def test_the_exception_types():
    assert issubclass(UnsafeFileError, SentinetError) and issubclass(SentinetError, Exception)
    stopped = Interrupted("stopped at epoch 3", result={"best": 0.5})
    assert str(stopped) == "stopped at epoch 3" and stopped.result == {"best": 0.5}
    assert Interrupted("nothing kept").result is None
    assert not issubclass(Interrupted, (SentinetError, KeyboardInterrupt))


def test_one_line_is_the_first_line_cut_to_width():
    assert one_line(ValueError("first\nsecond\nthird")) == "first"
    assert one_line(ValueError("  \n  padded  \nx")) == "padded  "
    assert one_line(OSError()) == "OSError"  # no message: the type's name
    assert one_line(ValueError("\n\n")) == "ValueError"
    long = one_line(ValueError("x" * 500))
    assert long == "x" * 117 + "..." and len(long) == 120
    assert one_line(ValueError("x" * 120)) == "x" * 120
    assert one_line(ValueError("abcdefgh"), width=6) == "abc..."


def test_shortened_leaves_out_the_middle_of_a_long_message():
    assert shortened("short") == "short"
    assert shortened("x" * 600) == "x" * 600
    message = "A" * 300 + "B" * 1000 + "C" * 300
    assert shortened(message) == "A" * 300 + " [... 1,000 characters left out ...] " + "C" * 300
    assert shortened("0123456789", width=4) == "01 [... 6 characters left out ...] 89"


@pytest.mark.parametrize("text, shown", [
    ("plain текст 👍", "plain текст 👍"),
    ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("nul\x00 del\x7f", "nul\\x00 del\\x7f"),
    ("csi\x9b1m", "csi\\x9b1m"),  # a one-byte C1 CSI
    ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ("bidi\u202eevil\u2066x\u2069", "bidi\\u202eevil\\u2066x\\u2069"),
    ("half\ud83d", "half\\ud83d"),  # a lone surrogate, which no writer can encode
])
def test_printable_escapes_what_a_terminal_would_act_on(text, shown):
    assert printable(text) == shown
    printable(text).encode("utf-8")  # always writable


def test_printable_can_keep_line_breaks_of_a_multi_line_message():
    assert printable("| a |\n| b |\r\x1b", keep_newlines=True) == "| a |\n| b |\\r\\x1b"
    assert printable("| a |\n| b |", keep_newlines=False) == "| a |\\n| b |"
