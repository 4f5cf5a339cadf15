"""The unpack budget, and bounds on what numpy inflates an .npz to before it reads one.

An .npz (an export's vectors.npz, a baseline's baseline.npz) may come from anyone: numpy
inflates each member whole and allocates the shape its .npy header claims first, so these
checks read the zip directory and the headers only, and hold the total to the same budget an
archive unpacks under ($SENTINET_MAX_UNPACK_MB).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from math import prod
from pathlib import Path

from sentinet.errors import SentinetError, UnsafeFileError

LIMIT_VARIABLE = "SENTINET_MAX_UNPACK_MB"
DEFAULT_LIMIT_MB = 1024
NPZ_MAX_MEMBERS = 64  # sentinet writes 2 (vectors.npz) or a handful (baseline.npz)
NPY_HEADER_MAX = 10_000  # numpy's own limit for a header it will parse


def unpack_limit() -> int:
    """The most bytes an archive may unpack to: $SENTINET_MAX_UNPACK_MB megabytes (1024)."""
    raw = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_LIMIT_MB << 20
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1 << 20:
        raise SentinetError(f"${LIMIT_VARIABLE}: {raw[:40]!r} is not a whole number of megabytes "
                            "from 1 to 1048576")
    return int(raw) << 20


class NpzBomb(ValueError):
    """An .npz whose .npy headers claim more than it holds: made to make numpy allocate."""


def check_npz(path: Path, damaged: str = "not a readable .npz file") -> None:
    """Refuse an .npz that would inflate past the unpack budget ($SENTINET_MAX_UNPACK_MB)
    before numpy reads it: numpy inflates each member whole and allocates the shape its .npy
    header claims first, so a 1.4 MB file could ask for 2 GB. A bomb is an UnsafeFileError
    (paths that tolerate unreadable vectors still stop); ``damaged``: what to call a file
    that is no .npz at all."""
    limit = unpack_limit()
    try:
        inflated = npz_size(path)
    except NpzBomb as exc:
        raise UnsafeFileError(f"{path}: {exc}") from None
    except ValueError as exc:
        raise SentinetError(f"{path}: {damaged} ({exc})") from None
    if inflated > limit:
        raise UnsafeFileError(f"{path}: its arrays would inflate to {inflated >> 20:,} MB, over the "
                              f"{limit >> 20:,} MB limit (raise ${LIMIT_VARIABLE} for a larger trusted file)")


def npz_size(path: Path) -> int:
    """The bytes an .npz's members inflate to, from its zip directory (zipfile never inflates a
    member past its declared size), each member's .npy header checked to describe no more data
    than the member holds. Any problem is a ValueError in words that quote nothing of the file."""
    try:
        with zipfile.ZipFile(path) as npz:
            members = npz.infolist()
            if len(members) > NPZ_MAX_MEMBERS:
                raise ValueError(f"{len(members)} members, more than an .npz of sentinet's holds")
            for info in members:
                with npz.open(info) as data:
                    if _npy_bytes(data) > info.file_size:
                        raise NpzBomb("an array header claims more data than its member holds")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError,
            zlib.error):
        raise ValueError("a damaged zip archive") from None
    except OSError as exc:
        raise ValueError(exc.strerror or "it cannot be read") from None
    return sum(info.file_size for info in members)


def _npy_bytes(data) -> int:
    """The bytes of the array an .npy header describes; object arrays (pickles) are refused."""
    import numpy as np  # only an .npz needs it: unpacking an archive does not

    try:
        version = np.lib.format.read_magic(data)
        read = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}[version]
        shape, _, dtype = read(data, max_header_size=NPY_HEADER_MAX)
    except (ValueError, KeyError, SyntaxError, TypeError):  # their messages quote the header
        raise ValueError("a member is not a readable .npy array") from None
    if dtype.hasobject:
        raise ValueError("a member holds Python objects (a pickle), which sentinet never loads")
    if any(n < 0 for n in shape):
        raise ValueError("an array header gives a negative dimension")
    return prod(shape) * dtype.itemsize
