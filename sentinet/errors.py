"""The one exception type the CLI turns into a one-line message and exit code 2."""

import re


class SentinetError(Exception):
    """A problem with the user's input (files, config, data), not a bug in sentinet.

    Raise it with a message that names the file, key or value at fault; the CLI prints
    ``error: <message>`` on stderr and exits with code 2, without a traceback.
    """


class UnsafeFileError(SentinetError):
    """A file whose format can run code when opened (a pickle): refused, never loaded.

    Kept apart from other input errors so that paths which tolerate a missing file (unseen
    words at predict time) still stop on it instead of warning and carrying on.
    """


class Interrupted(Exception):
    """Ctrl-C during training, after whatever could be kept was kept: the CLI prints the
    message and exits 130. ``result`` is the usable best-so-far run, if any."""

    def __init__(self, message: str, result: object = None):
        super().__init__(message)
        self.result = result


def one_line(exc: BaseException, width: int = 120) -> str:
    """The first line of an exception's message, cut to ``width``: libraries (gensim, numpy,
    tarfile) word their failures at length, and an ``error:`` line stays one line."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= width else line[:width - 3] + "..."


def shortened(message: str, width: int = 600) -> str:
    """``message`` with its middle left out past ``width`` characters: an error quotes the
    value at fault, and a hostile value (a megabyte line, an expanded YAML alias) must not
    become a megabyte error line."""
    if len(message) <= width:
        return message
    keep = width // 2
    return f"{message[:keep]} [... {len(message) - 2 * keep:,} characters left out ...] {message[-keep:]}"


# What a terminal would act on rather than show: C0 controls (ESC starts colour, title and
# cursor sequences, \n forges a second line), DEL, C1 controls (U+009B is a one-byte CSI),
# the Unicode line and paragraph separators, the bidi overrides and isolates that reorder
# what follows them, and lone surrogates (which cannot even be encoded to write).
_OTHER_UNPRINTABLE = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNPRINTABLE = re.compile(f"[\x00-\x1f{_OTHER_UNPRINTABLE}]")
_UNPRINTABLE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_OTHER_UNPRINTABLE}]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``, ``\\u202e``):
    file names, data fields and config values quoted in a message come from outside, and must
    reach a terminal as text, never as commands or a forged second ``error:`` line.
    ``keep_newlines``: for a log message that is several lines by design (a report table)."""
    pattern = _UNPRINTABLE_BUT_NEWLINE if keep_newlines else _UNPRINTABLE
    return pattern.sub(_escape, text)


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def install_hint(extra: str) -> str:
    """How to get an optional extra: sentinet is installed from its checkout, not from PyPI
    (where the name `sentinet` is another project's)."""
    return f"pip install -e '.[{extra}]' in the sentinet checkout; make install has it"
