"""Checking a file against the digests a catalogue entry accepts: SHA-256, or a git blob id
(the SHA-1 of ``blob <size>\\0`` + the bytes), which is how a git tree names its files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from sentinet.downloads.catalog import Digest
from sentinet.errors import SentinetError

CHUNK = 1 << 20


def file_digest(path: Path, algorithm: str) -> str:
    """``algorithm`` ("sha256" or "git-blob-sha1") of the file's bytes, read in chunks."""
    if algorithm == "sha256":
        h = hashlib.sha256()
    elif algorithm == "git-blob-sha1":
        h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    else:
        raise ValueError(f"unknown digest algorithm {algorithm!r}")
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def matching(path: Path, digests: Iterable[Digest]) -> Digest | None:
    """The first accepted digest the file has, or None (each algorithm is computed once)."""
    seen: dict[str, str] = {}
    for digest in digests:
        if digest.algorithm not in seen:
            seen[digest.algorithm] = file_digest(path, digest.algorithm)
        if seen[digest.algorithm] == digest.hexdigest:
            return digest
    return None


def describe(path: Path, digests: Iterable[Digest]) -> str:
    """What the file has, for an error line: ``sha256 ab12…, git-blob-sha1 cd34…``."""
    algorithms = dict.fromkeys(d.algorithm for d in digests)
    return ", ".join(f"{a} {file_digest(path, a)[:12]}…" for a in algorithms)


def keep_verified(part: Path, target: Path, digests, refusal: str) -> Digest:
    """Rename ``part`` over ``target`` in one step when its bytes match one of ``digests``;
    else remove it and raise ``refusal`` with ``{found}`` (the part's checksums) filled in."""
    matched = matching(part, digests)
    if matched is None:
        found = describe(part, digests)
        part.unlink()
        raise SentinetError(refusal.format(found=found))
    os.replace(part, target)
    return matched
