"""What the bytes of a data file must be: UTF-8, never UTF-16 (which decodes as valid
garbage without its byte-order mark), and texts without lone surrogates (JSON's unpaired
``\ud800`` escapes, which no writer can encode). Every reader asks here."""

from __future__ import annotations

import re
from pathlib import Path

from sentinet.errors import SentinetError

UTF16_PROBE = 1024  # bytes looked at for UTF-16's tell-tale NULs
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # only JSON's "\ud800" escapes make them


def refuse_utf16(head: bytes, path: Path) -> None:
    """UTF-16 text (Windows' "Unicode" export) is refused, not read: without a byte-order mark
    its Cyrillic and ASCII decode as valid UTF-8 garbage, every other byte a NUL or a control."""
    encoding = utf16_encoding(head)
    if encoding:
        raise SentinetError(f"{path}: looks like {encoding} (NUL bytes between the characters), not "
                            f"UTF-8; convert it, e.g. iconv -f {encoding} -t UTF-8 FILE > FILE.utf8")


def utf16_encoding(head: bytes) -> str | None:
    """"UTF-16" (a byte-order mark), "UTF-16LE"/"UTF-16BE" (NULs at only odd/even offsets,
    where text in UTF-16 has the high bytes of its ASCII), or None: a run of NULs, or a
    stray one, is not UTF-16."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if (even == 0) == (odd == 0) or max(even, odd) < max(1, len(head) // 128):
        return None
    return "UTF-16LE" if odd else "UTF-16BE"


def utf8_error(path: Path, data: bytes, exc: UnicodeDecodeError) -> SentinetError:
    line = data.count(b"\n", 0, exc.start) + 1
    return SentinetError(f"{path}: not valid UTF-8 at byte {exc.start} (line {line})")


def replaced_surrogates(text: str) -> str:
    """A text with each lone surrogate (JSON's unpaired "\\ud800", half an emoji cut by a
    truncating exporter) as U+FFFD, the way a UTF-8 decoder shows a broken byte: the rest
    of the text still counts, and no writer (CSV, JSON, a log) can encode the half."""
    return LONE_SURROGATE.sub("\ufffd", text)
