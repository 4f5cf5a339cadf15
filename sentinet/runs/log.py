"""The log of a training run: what it prints, also kept in its train.log."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from sentinet.errors import SentinetError, printable
from sentinet.fileio import open_append


class RunLog:
    """Prints above the progress bars and appends the same lines to train.log.

    Lines logged before the run directory exists are kept and written once it does, so
    a run that fails on bad input leaves no directory behind but a full log otherwise.
    """

    def __init__(self, echo: bool = True) -> None:
        self.path: Path | None = None
        self.pending: list[str] = []
        self.echo = echo  # False: train.log only (a tune trial, summed up in one line by tune)

    def attach(self, path: Path) -> None:
        self.path = path
        self._write(self.pending)

    def __call__(self, message: str) -> None:
        """Log ``message``; control characters in it (a run name, a data file's path or label)
        are escaped, so nothing from outside acts on the terminal; its own line breaks stay."""
        message = printable(message, keep_newlines=True)
        if self.echo:
            tqdm.write(message)
        if self.path is None:
            self.pending.append(message)
        else:
            self._write([message])

    def _write(self, lines: list[str]) -> None:
        """Append, never through a link planted at train.log (sentinet.fileio.open_append)."""
        try:
            with open_append(self.path) as f:
                f.writelines(line + "\n" for line in lines)
        except OSError as exc:  # a full disk names the file, like every other write
            raise SentinetError(f"{self.path}: cannot write ({exc.strerror or exc})") from None
