"""sentinet.data.npz: the unpack budget from $SENTINET_MAX_UNPACK_MB, and an .npz sized from
its zip directory and .npy headers before numpy inflates anything (tests/data/tests/data/test_embeddings.py
covers the budget and object arrays through open_vectors)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from sentinet.data.npz import NpzBomb, check_npz, npz_size, unpack_limit
from sentinet.errors import SentinetError, UnsafeFileError


def npy_header(shape: tuple, descr: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as npz:
        for name, data in members.items():
            npz.writestr(name, data)
    return path


def test_the_limit_defaults_to_a_gigabyte_and_reads_megabytes(monkeypatch):
    monkeypatch.delenv("SENTINET_MAX_UNPACK_MB", raising=False)
    assert unpack_limit() == 1024 << 20
    for raw, mb in (("", 1024), ("  ", 1024), ("5", 5), (" 7 ", 7), ("1", 1), ("1048576", 1 << 20)):
        monkeypatch.setenv("SENTINET_MAX_UNPACK_MB", raw)
        assert unpack_limit() == mb << 20


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "abc", "1048577", "1e3", "9" * 50])
def test_a_bad_limit_is_one_line(monkeypatch, raw):
    monkeypatch.setenv("SENTINET_MAX_UNPACK_MB", raw)
    with pytest.raises(SentinetError) as caught:
        unpack_limit()
    assert str(caught.value) == (f"$SENTINET_MAX_UNPACK_MB: {raw[:40]!r} is not a whole number of megabytes "
                                 "from 1 to 1048576")


def test_npz_size_is_what_the_members_inflate_to(tmp_path):
    path = tmp_path / "a.npz"
    np.savez_compressed(path, a=np.zeros((100, 100), np.float32), b=np.arange(4))
    with zipfile.ZipFile(path) as npz:
        declared = sum(info.file_size for info in npz.infolist())
    assert npz_size(path) == declared > 40_000 > path.stat().st_size  # zeros deflate to almost nothing


def test_a_header_claiming_more_than_its_member_holds_is_a_bomb(tmp_path):
    path = write_zip(tmp_path / "b.npz", {"a.npy": npy_header((10**9,)) + bytes(16)})  # 8 GB claimed
    with pytest.raises(NpzBomb, match="^an array header claims more data than its member holds$"):
        npz_size(path)
    with pytest.raises(UnsafeFileError, match=rf"^{path}: an array header claims more data"):
        check_npz(path)
    honest = write_zip(tmp_path / "h.npz", {"a.npy": npy_header((2,)) + bytes(16)})
    assert npz_size(honest) == len(npy_header((2,))) + 16


@pytest.mark.parametrize("members, why", [
    ({"a.npy": b"not an array"}, "a member is not a readable .npy array"),
    ({"a.npy": npy_header((-1,)) + bytes(8)}, "an array header gives a negative dimension"),
    ({"a.npy": npy_header((1,), "|O") + bytes(8)}, "a member holds Python objects (a pickle), which sentinet never loads"),
    ({f"a{i}.npy": b"" for i in range(65)}, "65 members, more than an .npz of sentinet's holds"),
])
def test_what_is_no_npz_of_sentinet_is_a_value_error_quoting_nothing(tmp_path, members, why):
    path = write_zip(tmp_path / "x.npz", members)
    with pytest.raises(ValueError) as caught:
        npz_size(path)
    assert str(caught.value) == why and not isinstance(caught.value, NpzBomb)
    with pytest.raises(SentinetError) as refused:
        check_npz(path, damaged="not a sentinet bundle")
    assert str(refused.value) == f"{path}: not a sentinet bundle ({why})"
    assert not isinstance(refused.value, UnsafeFileError)


def test_a_file_that_is_no_zip_or_is_missing(tmp_path):
    path = tmp_path / "v.npz"
    path.write_bytes(b"PK\x03\x04 but nothing more")
    with pytest.raises(SentinetError, match=rf"^{path}: not a readable \.npz file \(a damaged zip archive\)$"):
        check_npz(path)
    with pytest.raises(SentinetError, match=r"gone\.npz: not a readable \.npz file \(No such file or directory\)$"):
        check_npz(tmp_path / "gone.npz")


def test_check_npz_holds_the_inflated_size_to_the_budget(tmp_path, monkeypatch):
    path = tmp_path / "z.npz"
    np.savez_compressed(path, a=np.zeros(3 << 18, np.float32))  # 3 MB inflated, a few KB on disk
    monkeypatch.setenv("SENTINET_MAX_UNPACK_MB", "4")
    check_npz(path)
    monkeypatch.setenv("SENTINET_MAX_UNPACK_MB", "2")
    with pytest.raises(UnsafeFileError, match=rf"^{path}: its arrays would inflate to 3 MB, over the 2 MB limit "
                                              r"\(raise \$SENTINET_MAX_UNPACK_MB for a larger trusted file\)$"):
        check_npz(path)


def test_a_superscript_digit_is_a_bad_limit_too(monkeypatch):
    monkeypatch.setenv("SENTINET_MAX_UNPACK_MB", "²")
    with pytest.raises(SentinetError, match="is not a whole number of megabytes"):
        unpack_limit()
