"""sentinet.runs.archive, read in process: what is an archive, a small export unpacked to
exactly its files, and refusals of members that are no part of an export (the CLI's side,
with every hostile shape: tests/stories/test_archive.py)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from sentinet.errors import SentinetError
from sentinet.runs import archive

ROOT = archive.ROOT
RUN = {"config.yaml": b"model: {}\n", "vocab.json": b"{}", "model.pt": b"weights"}


def member(name: str, data: bytes | None = b"x", type_: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = type_, link
    info.mode = 0o755 if type_ == tarfile.DIRTYPE else 0o644
    info.size = len(data) if type_ == tarfile.REGTYPE and data is not None else 0
    return info, data if type_ == tarfile.REGTYPE else None


def run_members(prefix: str = ROOT, files: dict[str, bytes] = RUN) -> list[tuple]:
    return [member(prefix, type_=tarfile.DIRTYPE)] + [member(f"{prefix}/{n}", d) for n, d in files.items()]


def write(path: Path, members: list[tuple]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


@pytest.fixture
def into(tmp_path: Path) -> Path:
    folder = tmp_path / "unpacked"
    folder.mkdir(mode=0o700)
    return folder


def test_is_archive_wants_a_file_with_an_export_suffix(tmp_path):
    for name in ("run.tar.gz", "run.tgz"):
        (tmp_path / name).write_bytes(b"")
        assert archive.is_archive(tmp_path / name)
        assert archive.is_archive(str(tmp_path / name))
    (tmp_path / "run.tar").write_bytes(b"")
    (tmp_path / "dir.tar.gz").mkdir()
    assert not archive.is_archive(tmp_path / "run.tar")
    assert not archive.is_archive(tmp_path / "dir.tar.gz")  # a run directory so named is a directory
    assert not archive.is_archive(tmp_path / "missing.tgz")
    assert not archive.is_archive(tmp_path / "RUN.TAR.GZ")  # the suffix as export writes it


def test_a_run_unpacks_to_exactly_its_files(tmp_path, into):
    files = {**RUN, "metrics.json": b'{"best": {}}', "decision.json": b'{"bias": [0, 0, 0]}'}
    root = archive.unpack(write(tmp_path / "run.tar.gz", run_members(files=files)), into)
    assert root == into / ROOT
    assert {p.name: p.read_bytes() for p in root.iterdir()} == files
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in root.iterdir())  # sentinet's modes, not the archive's
    assert root.stat().st_mode & 0o777 == 0o700


def test_an_ensemble_unpacks_with_its_numbered_members(tmp_path, into):
    members = [member(ROOT, type_=tarfile.DIRTYPE),
               member(f"{ROOT}/ensemble.json", json.dumps({"members": ["member0", "member1"]}).encode())]
    members += run_members(f"{ROOT}/member0") + run_members(f"{ROOT}/member1")
    root = archive.unpack(write(tmp_path / "e.tgz", members), into)
    assert sorted(p.name for p in root.iterdir()) == ["ensemble.json", "member0", "member1"]
    assert sorted(p.name for p in (root / "member1").iterdir()) == sorted(RUN)


def refused(tmp_path: Path, into: Path, members: list[tuple]) -> str:
    path = write(tmp_path / "evil.tar.gz", members)
    with pytest.raises(SentinetError) as caught:
        archive.unpack(path, into)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message.removeprefix(f"{path}: ")


def test_a_symlink_member_is_refused_before_anything_of_it_is_written(tmp_path, into):
    outside = tmp_path / "outside"
    outside.mkdir()
    why = refused(tmp_path, into, run_members() + [member(f"{ROOT}/decision.json", type_=tarfile.SYMTYPE,
                                                          link=str(outside))])
    assert why == (f"refused member '{ROOT}/decision.json': a symbolic link, and an export holds only "
                   "regular files")
    assert not (into / ROOT / "decision.json").exists() and list(outside.iterdir()) == []


@pytest.mark.parametrize("kind, type_, words", [
    ("hard link", tarfile.LNKTYPE, "a hard link"),
    ("fifo", tarfile.FIFOTYPE, "a FIFO"),
    ("device", tarfile.CHRTYPE, "a device"),
])
def test_other_special_members_are_refused_by_kind(tmp_path, into, kind, type_, words):
    why = refused(tmp_path, into, [member(f"{ROOT}/model.pt", type_=type_, link="x")])
    assert why == f"refused member '{ROOT}/model.pt': {words}, and an export holds only regular files"


@pytest.mark.parametrize("name, why", [
    (f"{ROOT}/hooks.py", "not a file an export contains"),
    (f"{ROOT}/.bashrc", "not a file an export contains"),
    (f"{ROOT}/member0/train.log", "not a file an export contains"),
    (f"{ROOT}/member0/ensemble.json", "not a file an export contains"),  # no ensemble inside a member
    (f"{ROOT}/member01/model.pt", "not a file an export contains"),  # member numbers as export writes them
    (f"{ROOT}/member100/model.pt", "an ensemble has at most 100 members"),
    ("model.pt", f"not inside {ROOT}/"),
    ("other/model.pt", f"not inside {ROOT}/"),
])
def test_an_unknown_member_name_is_refused(tmp_path, into, name, why):
    assert refused(tmp_path, into, run_members() + [member(name)]) == f"refused member {name!r}: {why}"


@pytest.mark.parametrize("name, why", [
    (f"{ROOT}/../../planted.sh", "not a file an export contains"),
    (f"{ROOT}/member0/../../planted.sh", "not a file an export contains"),
    ("../planted.sh", f"not inside {ROOT}/"),
    ("/tmp/planted.sh", f"not inside {ROOT}/"),
    (f"./{ROOT}/model.pt", f"not inside {ROOT}/"),
])
def test_a_path_traversal_name_is_refused_and_nothing_lands_outside(tmp_path, into, name, why):
    assert refused(tmp_path, into, [member(name)]) == f"refused member {name!r}: {why}"
    assert not list(tmp_path.rglob("planted.sh"))


def test_a_name_given_twice_is_refused(tmp_path, into):
    why = refused(tmp_path, into, run_members() + [member(f"{ROOT}/model.pt", b"other")])
    assert why == f"refused member '{ROOT}/model.pt': it appears twice"
    assert (into / ROOT / "model.pt").read_bytes() == b"weights"  # the first one, untouched


def test_a_long_member_name_is_cut_in_the_message(tmp_path, into):
    name = f"{ROOT}/" + "x" * 200
    why = refused(tmp_path, into, [member(name)])
    assert why == f"refused member {name[:77] + '...'!r}: not a file an export contains"


@pytest.mark.parametrize("members, why", [
    ([], f"not a sentinet export (no {ROOT}/ folder)"),
    ([member(f"{ROOT}/config.yaml")], f"not a sentinet export ({ROOT}/ has no vocab.json, model.pt)"),
    (run_members() + [member(f"{ROOT}/member0", type_=tarfile.DIRTYPE)], "member folders without an ensemble.json"),
    ([member(f"{ROOT}/ensemble.json", b'{"members": ["member0", "member1"]}')] + run_members(f"{ROOT}/member0"),
     "ensemble.json does not list exactly the member folders member0…member0 the archive holds"),
])
def test_what_is_no_whole_export_is_refused(tmp_path, into, members, why):
    assert refused(tmp_path, into, members) == why


def test_a_file_that_is_no_gzipped_tar_is_one_line(tmp_path, into):
    path = tmp_path / "run.tar.gz"
    path.write_bytes(b"just text\n" * 10)
    with pytest.raises(SentinetError, match=rf"^{path}: not a readable sentinet export \("):
        archive.unpack(path, into)
