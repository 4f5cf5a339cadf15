"""Archives from strangers (issue 13): an export is read member by member into names sentinet
builds itself, so no archive can write outside the private folder it is unpacked into, on any
Python, whatever tarfile's own filter would have let through.

Every hostile archive is built here, by the test, and handed to ``predict``, ``eval`` and
``serve`` the way a user would: each must exit 2 with one ``error:`` line, leave the marker
folder (the place the archive aims at) empty and the temp folder as it was.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import sys
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from sentinet.data.embeddings import open_vectors
from sentinet.errors import SentinetError

from ..helpers import assert_one_line_error, run_cli, write_navec

ROOT = "sentinet-export"
RUN = {"config.yaml": b"model: {}\n", "vocab.json": b"{}", "model.pt": b"weights",
       "metrics.json": b"{}", "vectors.npz": b"npz"}


# --------------------------------------------------------------------------------------
# Building archives by hand: members of any type, name, size and order


def reg(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def special(name: str, type_: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = type_, linkname
    if type_ == tarfile.DIRTYPE:
        info.mode = 0o755
    return info, None


def write_archive(path: Path, members: list, fmt: int = tarfile.GNU_FORMAT) -> Path:
    with tarfile.open(path, "w:gz", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def run_members(prefix: str = "sentinet-export") -> list:
    return [special(prefix, tarfile.DIRTYPE)] + [reg(f"{prefix}/{n}", d) for n, d in RUN.items()]


def cve_2025_4517_chain(target: Path, dest: Path, prefix: str = "") -> list:
    """The published shape of the data-filter bypass: 16 nested 247-character folders, each
    with a one-letter symlink to it, a 254-character symlink that climbs back out through the
    chain (its real path passes PATH_MAX, where realpath stops resolving), a symlink ``escape``
    through it to ``target``, and a regular file written through ``escape``. ``dest`` is the
    folder the archive will be unpacked into: ``escape`` climbs as many levels as it is deep,
    which stays inside ``dest`` on paper and leaves it on disk."""
    comp, steps, path, members = "d" * 247, "abcdefghijklmnop", prefix, []
    for step in steps:
        members.append(special(os.path.join(path, comp), tarfile.DIRTYPE))
        members.append(special(os.path.join(path, step), tarfile.SYMTYPE, comp))
        path = os.path.join(path, comp)
    link = os.path.join(*steps, "l" * 254)
    members.append(special(os.path.join(prefix, link), tarfile.SYMTYPE, "../" * len(steps)))
    climb = len(dest.parts) - 1 + (1 if prefix else 0)
    escape = os.path.join(prefix, "escape")
    members.append(special(escape, tarfile.SYMTYPE, link + "/" + "../" * climb + str(target).lstrip("/")))
    members.append(reg(escape + "/planted.sh", b"#!/bin/sh\necho owned\n", mode=0o755))
    return members


def unpack_dir(marker: Path) -> Path:
    """Where predict unpacks: a sentinet-XXXX folder in the test's TMPDIR (same depth)."""
    return marker.parent / "tmpdir" / "sentinet-xxxxxxxx"


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    """A marker folder the archives aim at, a private TMPDIR, and an input file."""
    marker, tmp = tmp_path / "marker", tmp_path / "tmpdir"
    marker.mkdir()
    tmp.mkdir()
    lines = tmp_path / "in.txt"
    lines.write_text("сбербанк спасибо\n", encoding="utf-8")
    return {"dir": tmp_path, "marker": marker, "tmp": tmp, "lines": lines}


def two_gb_bomb(path: Path) -> Path:
    """A member of 2 GiB of zeros, gzipped to ~2 MB: written as a raw stream so the test
    never holds (or writes) the 2 GiB itself."""
    info = tarfile.TarInfo("sentinet-export/model.pt")
    info.size = 2 << 30
    header = info.tobuf(tarfile.GNU_FORMAT)
    packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    with open(path, "wb") as out:
        out.write(packer.compress(header))
        for _ in range(info.size >> 20):
            out.write(packer.compress(chunk))
        out.write(packer.compress(bytes(1024)) + packer.flush())
    return path


def truncated(path: Path) -> Path:
    """A whole export cut in half, in the middle of a member's (incompressible) bytes."""
    write_archive(path, [*run_members()[:-1], reg("sentinet-export/vectors.npz", os.urandom(64 << 10))])
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path


def pax_bomb(path: Path) -> Path:
    """A pax header of 64 MB (tarfile reads such headers whole into memory)."""
    info = tarfile.TarInfo("sentinet-export/model.pt")
    info.pax_headers = {"comment": "x" * (64 << 20)}
    return write_archive(path, [special("sentinet-export", tarfile.DIRTYPE), (info, b"")],
                         fmt=tarfile.PAX_FORMAT)


CASES = {
    # name: (members or a builder of the archive file, fragment of the one error line)
    "cve-2025-4517": (lambda marker: cve_2025_4517_chain(marker, unpack_dir(marker)),
                      "not inside sentinet-export/"),
    "cve-2025-4517-inside": (lambda marker: cve_2025_4517_chain(marker, unpack_dir(marker), ROOT),
                             "not a folder an export contains"),
    "cve-2025-4517-links-only": (  # the chain without its folders: the first symlink is refused
        lambda marker: [m for m in cve_2025_4517_chain(marker, unpack_dir(marker), ROOT) if not m[0].isdir()],
        "symbolic link"),
    "symlink": (lambda marker: [*run_members(), special("sentinet-export/decision.json",
                                                        tarfile.SYMTYPE, str(marker))], "symbolic link"),
    "symlink-folder": (lambda marker: [special("sentinet-export", tarfile.SYMTYPE, str(marker)),
                                       reg("sentinet-export/model.pt")], "symbolic link"),
    "hardlink-missing": (lambda marker: [*run_members(), special("sentinet-export/decision.json",
                                                                 tarfile.LNKTYPE, "nowhere")], "hard link"),
    "hardlink-outside": (lambda marker: [special("sentinet-export/model.pt", tarfile.LNKTYPE,
                                                 str(marker / "x"))], "hard link"),
    "dotdot": (lambda marker: [*run_members(), reg("sentinet-export/../../marker/planted.sh")],
               "not a file an export contains"),
    "dotdot-top": (lambda marker: [reg("../marker/planted.sh")], "not inside sentinet-export/"),
    "absolute": (lambda marker: [reg(str(marker / "planted.sh"))], "not inside sentinet-export/"),
    "fifo": (lambda marker: [*run_members(), special("sentinet-export/decision.json", tarfile.FIFOTYPE)],
             "FIFO"),
    "device": (lambda marker: [*run_members(), special("sentinet-export/decision.json", tarfile.CHRTYPE)],
               "device"),
    "extra-file": (lambda marker: [*run_members(), reg("sentinet-export/hooks.py", b"import os")],
                   "'sentinet-export/hooks.py': not a file an export contains"),
    "extra-folder": (lambda marker: [*run_members(), special("sentinet-export/deep", tarfile.DIRTYPE)],
                     "not a folder an export contains"),
    "twice": (lambda marker: [*run_members(), reg("sentinet-export/model.pt", b"other")], "appears twice"),
    "member-folder-too-deep": (lambda marker: [reg("sentinet-export/member0/x/model.pt")],
                               "not a file an export contains"),
    "2gb-bomb": (two_gb_bomb, "more than 20 times its size"),
    "pax-bomb": (pax_bomb, "a metadata header of"),
    "truncated": (truncated, "not a readable sentinet export"),
    "not-gzip": (lambda path: path.write_bytes(b"just text\n" * 10) and path, "not a readable sentinet export"),
    "no-export-folder": (lambda marker: [], "no sentinet-export/ folder"),
    "missing-weights": (lambda marker: [reg("sentinet-export/config.yaml")], "has no vocab.json, model.pt"),
    "vectors-outside": (lambda marker: [*run_members()[:2], reg("sentinet-export/vocab.json", json.dumps(
        {"words": [], "n_learned": 0, "vectors": {"path": "/etc/passwd", "format": "word2vec-text"}}).encode()),
        *run_members()[3:]], "vocab.json names vectors outside the archive"),
    "ensemble-manifest-escapes": (
        lambda marker: [special("sentinet-export", tarfile.DIRTYPE),
                        reg("sentinet-export/ensemble.json", json.dumps({"members": [str(marker)]}).encode()),
                        *[reg(f"sentinet-export/member0/{n}", d) for n, d in RUN.items()]],
        "ensemble.json does not list exactly"),
}


def build(case: str, place: dict[str, Path]) -> Path:
    make, _ = CASES[case]
    path = place["dir"] / "evil.tar.gz"
    if make in (two_gb_bomb, truncated, pax_bomb) or case == "not-gzip":
        return make(path)
    return write_archive(path, make(place["marker"]))


def untouched(place: dict[str, Path]) -> None:
    assert list(place["marker"].iterdir()) == []
    assert list(place["tmp"].iterdir()) == []  # the private unpack folder is gone too
    assert not (place["dir"] / "sentinet-export").exists()
    assert not list(Path.cwd().glob("planted.sh"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_archive_is_refused_by_predict(place, case):
    archive = build(case, place)
    result = run_cli("predict", str(archive), str(place["lines"]), cwd=place["dir"],
                     env={**os.environ, "TMPDIR": str(place["tmp"])})
    assert_one_line_error(result, "evil.tar.gz", CASES[case][1])
    untouched(place)


@pytest.mark.parametrize("command", ["eval", "serve"])
@pytest.mark.parametrize("case", ["cve-2025-4517", "hardlink-missing", "2gb-bomb"])
def test_hostile_archive_is_refused_by_eval_and_serve(place, command, case):
    archive = build(case, place)
    if command == "eval":
        args = ["eval", str(archive), str(place["lines"])]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = ["serve", str(archive), "--port", str(port)]
    result = run_cli(*args, cwd=place["dir"], env={**os.environ, "TMPDIR": str(place["tmp"])})
    assert_one_line_error(result, "evil.tar.gz", CASES[case][1])
    assert "serving" not in result.stderr
    untouched(place)


@pytest.mark.skipif(sys.version_info >= (3, 11, 13), reason="this Python's data filter has the fix")
def test_the_chain_really_escapes_tarfiles_data_filter_here(place):
    """The control: on this Python, what sentinet used to do writes through the chain, so the
    refusal above is a refusal of a working attack, not of a harmless archive."""
    chain = cve_2025_4517_chain(place["marker"], place["tmp"])
    archive = write_archive(place["dir"] / "evil.tar.gz", chain)
    with tarfile.open(archive) as tar:
        tar.extractall(place["tmp"], filter="data")
    assert (place["marker"] / "planted.sh").is_file()


def test_the_size_limit_is_configurable_and_checked(place):
    archive = write_archive(place["dir"] / "evil.tar.gz",
                            [*run_members(), reg("sentinet-export/decision.json", bytes(2 << 20))])
    env = {**os.environ, "TMPDIR": str(place["tmp"]), "SENTINET_MAX_UNPACK_MB": "1"}
    result = run_cli("predict", str(archive), str(place["lines"]), env=env)
    assert_one_line_error(result, "decision.json", "more than 1 MB", "SENTINET_MAX_UNPACK_MB")
    result = run_cli("predict", str(archive), str(place["lines"]), env={**env, "SENTINET_MAX_UNPACK_MB": "lots"})
    assert_one_line_error(result, "$SENTINET_MAX_UNPACK_MB: 'lots' is not a whole number")
    untouched(place)


# --------------------------------------------------------------------------------------
# The real thing still works: a trained run and an ensemble of two, exported and read back


def test_a_real_export_and_an_ensemble_unpack_to_exactly_their_files(tmp_path):
    from sentinet.runs import archive

    members = run_members()
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    single = archive.unpack(write_archive(tmp_path / "one.tar.gz", members), tmp_path / "a")
    assert sorted(p.name for p in single.iterdir()) == sorted(RUN)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in single.iterdir())  # no mode from the archive
    assert (single / "model.pt").read_bytes() == b"weights"

    ensemble = [special("sentinet-export", tarfile.DIRTYPE),
                reg("sentinet-export/ensemble.json", json.dumps({"members": ["member0", "member1"]}).encode()),
                reg("sentinet-export/decision.json", b'{"bias": [0, 0, 0]}')]
    for i in range(2):
        ensemble += run_members(f"sentinet-export/member{i}")
    root = archive.unpack(write_archive(tmp_path / "two.tar.gz", ensemble), tmp_path / "b")
    assert sorted(p.name for p in root.iterdir()) == ["decision.json", "ensemble.json", "member0", "member1"]
    assert sorted(p.name for p in (root / "member1").iterdir()) == sorted(RUN)


# --------------------------------------------------------------------------------------
# navec .tar vectors are read into memory only, and only from regular members


def test_navec_with_a_link_member_is_refused(tmp_path):
    good = write_navec(tmp_path / "good.tar", ["a", "b"], np.zeros((2, 1)), np.zeros((1, 1, 4)))
    evil = tmp_path / "evil.tar"
    with tarfile.open(good) as src, tarfile.open(evil, "w") as out:
        for m in src.getmembers():
            if m.name == "vocab.bin":
                link = tarfile.TarInfo("vocab.bin")
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                out.addfile(link)
            else:
                out.addfile(m, src.extractfile(m))
    with pytest.raises(SentinetError, match=r"evil\.tar: navec archive member vocab\.bin is not a regular file"):
        open_vectors(evil)


def test_navec_vocab_that_expands_without_bound_is_refused(tmp_path, monkeypatch):
    from sentinet.data import embeddings

    monkeypatch.setattr(embeddings, "NAVEC_MEMBER_LIMIT", 1 << 20)
    path = write_navec(tmp_path / "bomb.tar", ["a"], np.zeros((1, 1)), np.zeros((1, 1, 4)))
    with tarfile.open(path) as src:
        kept = [(m, src.extractfile(m).read() if m.isreg() else None) for m in src.getmembers()]
    with tarfile.open(path, "w") as out:
        for m, data in kept:
            if m.name == "vocab.bin":
                data = gzip.compress(bytes(4 << 20))
                m.size = len(data)
            out.addfile(m, io.BytesIO(data) if data is not None else None)
    with pytest.raises(SentinetError, match=r"bomb\.tar: navec vocab\.bin expands past 1 MB"):
        open_vectors(path)
