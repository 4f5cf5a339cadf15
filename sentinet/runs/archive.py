"""Opening a ``sentinet export`` archive that may come from anyone.

An export is a known, flat set of regular files (see sentinet.runs.export), so reading one never
lets tarfile decide anything: the members are streamed in order, each is checked against that
layout, and its bytes are copied into a file whose path is built from sentinet's own names,
never from the archive's. Links of any kind, devices, FIFOs, directories beyond the layout,
unknown or repeated names and members that would unpack past a size limit are refused in one
line naming the member, before anything of theirs is written. This holds on every Python,
including those whose ``tarfile`` data filter can be walked past (CVE-2025-4517).

An ensemble's member folder holds a run's files or, for a ``sentinet baseline`` member, its
config, metrics, baseline.json and baseline.npz; ensemble.json's optional ``weights`` must be
one positive number per member.

The budget also covers what numpy will inflate: a vectors.npz counts at the size its members
unpack to (``npz_size``), and ``check_npz`` holds any .npz (an export's, a baseline's) to it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tarfile
import zlib
from pathlib import Path

from sentinet.data.npz import LIMIT_VARIABLE, NpzBomb, npz_size, unpack_limit
from sentinet.errors import SentinetError, one_line
from sentinet.runs.rundir import (
    BASELINE_JSON, BASELINE_NPZ, BUNDLE, CONFIG, DECISION, ENSEMBLE, HYBRID, LINEAR_JSON, LINEAR_NPZ, LITE_JSON,
    LITE_NPZ, METRICS, VOCAB, WEIGHTS, check_weights,
)

ROOT = "sentinet-export"
SUFFIXES = (".tar.gz", ".tgz")
# What export writes for one run, and beside an ensemble's members.
RUN_FILES = frozenset({CONFIG, VOCAB, WEIGHTS, METRICS, DECISION, BUNDLE, HYBRID, LINEAR_JSON, LINEAR_NPZ,
                       LITE_JSON, LITE_NPZ})
REQUIRED = (CONFIG, VOCAB, WEIGHTS)
# An ensemble's ``sentinet baseline`` member: its model as data, in place of a run's files.
BASELINE_FILES = frozenset({CONFIG, METRICS, BASELINE_JSON, BASELINE_NPZ})
BASELINE_REQUIRED = (CONFIG, BASELINE_JSON, BASELINE_NPZ)
ENSEMBLE_FILES = frozenset({ENSEMBLE, DECISION})
MAX_MEMBERS = 100
HEADER_ALLOWANCE = 16 << 20  # tar headers and padding on top of the files' own bytes
METADATA_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                  tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
METADATA_LIMIT = 64 << 10
# Weights and vectors are float32, which gzip barely shrinks: a real export unpacks to 1-3
# times its size. Beyond this ratio (plus a little for small archives) it is a gzip bomb.
MAX_RATIO = 20
RATIO_ALLOWANCE = 16 << 20
_MEMBER_DIR = re.compile(r"member(0|[1-9][0-9]{0,2})")
READ_SIZE = 1 << 20  # the stream is read a megabyte at a time (tarfile's 10 KB reads cost ~0.3 s per 100 MB)


def is_archive(path: Path) -> bool:
    return Path(path).is_file() and Path(path).name.endswith(SUFFIXES)


def unpack(archive: Path, into: Path) -> Path:
    """Unpack an export into the empty private folder ``into``; returns the run (or ensemble)
    directory inside it. Any problem is one SentinetError naming the archive."""
    archive, into = Path(archive), Path(into)
    limit, why = _limit(archive)
    layout = _Layout(archive, into / ROOT, why)
    try:
        with gzip.open(archive, "rb") as raw:
            stream = _Capped(raw, limit + HEADER_ALLOWANCE, layout)
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedInfo, bufsize=READ_SIZE) as tar:
                for member in tar:
                    target = layout.place(member)
                    if target is not None:
                        layout.spend(member, limit)
                        _copy(tar, member, target)
                        if target.suffix == ".npz":  # vectors.npz, a hybrid's linear.npz, lite.npz
                            layout.spend_inflated(member, target, limit)
    except SentinetError:
        raise
    except _Refusal as refusal:
        raise layout.refuse(*refusal.args) from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise SentinetError(f"{archive}: not a readable sentinet export ({one_line(exc, 160)})") from None
    return layout.finish()


def _limit(archive: Path) -> tuple[int, str]:
    """The most bytes ``archive`` may unpack to, and what to say when it tries more."""
    limit = unpack_limit()
    by_ratio = MAX_RATIO * archive.stat().st_size + RATIO_ALLOWANCE
    if by_ratio < limit:
        return by_ratio, (f"the archive would unpack to more than {MAX_RATIO} times its size "
                          f"({by_ratio >> 20} MB): a compression bomb, not an export")
    return limit, (f"the archive would unpack to more than {limit >> 20} MB "
                   f"(raise ${LIMIT_VARIABLE} for a larger trusted export)")


class _Layout:
    """The names an export may hold, in the one place that turns them into paths."""

    def __init__(self, archive: Path, root: Path, too_big: str):
        self.archive, self.root, self.too_big = archive, root, too_big
        self.seen: set[str] = set()
        self.members: set[int] = set()
        self.spent = 0

    def refuse(self, name: str, why: str) -> SentinetError:
        shown = name if len(name) <= 80 else name[:77] + "..."
        return SentinetError(f"{self.archive}: refused member {shown!r}: {why}")

    def place(self, member: tarfile.TarInfo) -> Path | None:
        """The file to write ``member`` to (None for a folder of the layout), or a refusal."""
        name = member.name
        if name in self.seen:
            raise self.refuse(name, "it appears twice")
        self.seen.add(name)
        if not (member.isreg() or member.isdir()) or member.issparse():
            raise self.refuse(name, f"a {_kind(member)}, and an export holds only regular files")
        parts = name.split("/")
        if parts[0] != ROOT:
            raise self.refuse(name, f"not inside {ROOT}/")
        folder, index = self.root, None
        numbered = _MEMBER_DIR.fullmatch(parts[1]) if len(parts) in (2, 3) else None
        if numbered:
            index = int(numbered.group(1))
            if index >= MAX_MEMBERS:
                raise self.refuse(name, f"an ensemble has at most {MAX_MEMBERS} members")
            folder = self.root / f"member{index}"
            parts = [ROOT, *parts[2:]]
        if member.isdir():
            if len(parts) != 1:
                raise self.refuse(name, "not a folder an export contains")
            self._mkdir(folder, index)
            return None
        allowed = RUN_FILES | ENSEMBLE_FILES if index is None else RUN_FILES | BASELINE_FILES
        if len(parts) != 2 or parts[1] not in allowed:
            raise self.refuse(name, "not a file an export contains")
        self._mkdir(folder, index)
        return folder / parts[1]

    def spend(self, member: tarfile.TarInfo, limit: int) -> None:
        """Refuse a member whose declared size would take the archive past ``limit``."""
        if member.size < 0:
            raise self.refuse(member.name, "its header gives a negative size")
        self.spent += member.size
        if self.spent > limit:
            raise self.refuse(member.name, self.too_big)

    def spend_inflated(self, member: tarfile.TarInfo, target: Path, limit: int) -> None:
        """Count what numpy will inflate the unpacked ``target`` (an .npz) to beyond its own
        bytes: a 2 GB array deflates into a few MB. An unreadable .npz is left to its loader."""
        try:
            inflated = npz_size(target)
        except NpzBomb as exc:
            raise self.refuse(member.name, str(exc)) from None
        except ValueError:
            return
        self.spent += max(0, inflated - member.size)
        if self.spent > limit:
            raise self.refuse(member.name, self.too_big)

    def _mkdir(self, folder: Path, index: int | None) -> None:
        self.root.mkdir(mode=0o700, exist_ok=True)
        if index is not None:
            self.members.add(index)
            folder.mkdir(mode=0o700, exist_ok=True)

    def finish(self) -> Path:
        """Check that what was unpacked is a whole export: one run, or an ensemble whose
        manifest names exactly the members it holds."""
        if not self.root.is_dir():
            raise SentinetError(f"{self.archive}: not a sentinet export (no {ROOT}/ folder)")
        manifest = self.root / ENSEMBLE
        if not manifest.is_file():
            if self.members:
                raise SentinetError(f"{self.archive}: member folders without an ensemble.json")
            self._require_run(self.root, f"{ROOT}/")
            return self.root
        if any((self.root / f).exists() for f in REQUIRED):
            raise SentinetError(f"{self.archive}: both an ensemble.json and a run's files in {ROOT}/")
        expected = [f"member{i}" for i in range(len(self.members))]
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8"))
            names = listed["members"]
        except (ValueError, KeyError, TypeError, RecursionError):
            listed, names = {}, None
        if names != expected or sorted(self.members) != list(range(len(self.members))):
            raise SentinetError(f"{self.archive}: ensemble.json does not list exactly the member "
                                f"folders member0…member{len(self.members) - 1} the archive holds")
        self._check_weights(listed.get("weights"), len(expected))
        for i in range(len(self.members)):
            self._require_member(self.root / f"member{i}", f"{ROOT}/member{i}/")
        return self.root

    def _check_weights(self, weights: object, count: int) -> None:
        """ensemble.json's weights, when it has them: one positive finite number per member."""
        if weights is None:
            return
        try:
            check_weights(weights, count)
        except ValueError as exc:
            raise SentinetError(f"{self.archive}: ensemble.json: {exc}") from None

    def _require_member(self, folder: Path, shown: str) -> None:
        """A member folder holds a run's files or a baseline's, never both."""
        run = sorted(f for f in RUN_FILES - BASELINE_FILES - {DECISION} if (folder / f).exists())
        baseline = sorted(f for f in (BASELINE_JSON, BASELINE_NPZ) if (folder / f).exists())
        if run and baseline:
            raise SentinetError(f"{self.archive}: {shown} holds both a baseline's files and a run's "
                                f"({', '.join(baseline + run)})")
        if not (folder / BASELINE_JSON).is_file():
            self._require_run(folder, shown)
            return
        missing = [f for f in BASELINE_REQUIRED if not (folder / f).is_file()]
        if missing:
            raise SentinetError(f"{self.archive}: not a sentinet export ({shown} has no {', '.join(missing)})")

    def _require_run(self, folder: Path, shown: str) -> None:
        missing = [f for f in REQUIRED if not (folder / f).is_file()]
        if missing:
            raise SentinetError(f"{self.archive}: not a sentinet export ({shown} has no {', '.join(missing)})")
        try:
            vectors = json.loads((folder / VOCAB).read_text(encoding="utf-8")).get("vectors") or {}
            elsewhere = vectors.get("path") not in (None, "", BUNDLE) or bool(vectors.get("concat"))
        except (ValueError, AttributeError, RecursionError):
            return  # a damaged vocab.json: loading it says so, naming the file
        if elsewhere:  # an export reads its own vectors.npz, never a file of this machine's
            raise SentinetError(f"{self.archive}: {shown}vocab.json names vectors outside the archive "
                                f"(an export's vectors are its own {BUNDLE})")


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """The member's bytes into a new file (O_EXCL, no symlink followed), 1 MB at a time."""
    source = tar.extractfile(member)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with source, os.fdopen(os.open(target, flags, 0o600), "wb") as out:
        while chunk := source.read(1 << 20):
            out.write(chunk)


class _BoundedInfo(tarfile.TarInfo):
    """tarfile reads a pax or GNU long-name header whole into memory before anyone sees it:
    refuse one larger than any export needs first."""

    def _proc_member(self, tar):
        if self.type in METADATA_TYPES and not 0 <= self.size <= METADATA_LIMIT:
            raise _Refusal(self.name, f"a metadata header of {self.size} bytes (at most {METADATA_LIMIT})")
        return super()._proc_member(tar)


class _Refusal(Exception):
    """A member refused where the archive's name is not at hand (inside tarfile)."""


class _Capped:
    """A read-only stream that gives up once more than ``cap`` decompressed bytes were read:
    whatever the headers claim, a small archive cannot expand without bound."""

    def __init__(self, raw, cap: int, layout: _Layout):
        self.raw, self.cap, self.layout, self.read_so_far = raw, cap, layout, 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size >= 0 else self.cap + 1 - self.read_so_far)
        self.read_so_far += len(data)
        if self.read_so_far > self.cap:
            raise SentinetError(f"{self.layout.archive}: {self.layout.too_big}")
        return data


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    if member.issparse():
        return "sparse file"
    return f"member of tar type {member.type!r}"
