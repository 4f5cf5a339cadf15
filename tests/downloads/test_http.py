"""sentinet.downloads.http against a real HTTP server on 127.0.0.1: a file is kept only when its
bytes match, a dropped download resumes with a Range request, every failure is one line."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from sentinet.downloads.catalog import Digest, KnownFile
from sentinet.downloads.digests import file_digest, matching
from sentinet.downloads.http import Retry, download
from sentinet.errors import SentinetError

from .mirror import Route, mirror

BODY = bytes(range(256)) * 400 + "твит про банк\n".encode()  # ~100 KB: several read chunks
QUICK = Retry(tries=3, backoff=0.01, timeout=10)


def known(body: bytes = BODY, size: int | None = None) -> KnownFile:
    blob = hashlib.sha1(f"blob {len(body)}\0".encode() + body).hexdigest()
    return KnownFile("set/file.xml", "file.xml", (Digest("git-blob-sha1", blob, "the original"),), size)


def left(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_good_file_is_kept_and_no_part_file_stays(tmp_path: Path) -> None:
    with mirror({"/file.xml": Route(BODY)}) as server:
        digest = download(f"{server.url}/file.xml", tmp_path / "set/file.xml", known(), QUICK, progress=False)
    assert digest.version == "the original"
    assert (tmp_path / "set/file.xml").read_bytes() == BODY
    assert left(tmp_path) == ["set/file.xml"]


@pytest.mark.parametrize("served", [
    Route(BODY[:100] + bytes([BODY[100] ^ 1]) + BODY[101:]),  # one flipped bit
    Route(BODY[: len(BODY) // 2]),  # a whole response, of half the file
    Route(BODY + b"tail"),  # a longer one
])
def test_bytes_that_match_no_digest_are_refused_and_nothing_is_left(tmp_path: Path, served: Route) -> None:
    with mirror({"/file.xml": served}) as server:
        url = f"{server.url}/file.xml"
        with pytest.raises(SentinetError) as exc:
            download(url, tmp_path / "set/file.xml", known(), QUICK, progress=False)
    assert str(exc.value).startswith(f"{url}: the file downloaded is not file.xml (its git-blob-sha1 ")
    assert "it was not kept" in str(exc.value) and "\n" not in str(exc.value)
    assert list(tmp_path.iterdir()) == []  # not even the folder made for it


def test_a_dropped_connection_resumes_where_it_stopped(tmp_path: Path) -> None:
    with mirror({"/file.xml": Route(BODY, faults=["drop"])}) as server:
        download(f"{server.url}/file.xml", tmp_path / "file.xml", known(), QUICK, progress=False)
    assert (tmp_path / "file.xml").read_bytes() == BODY
    (first, no_range), (_, resumed) = server.log
    assert no_range is None and resumed == f"bytes={len(BODY) // 2}-"  # only the missing half came again


def test_a_part_file_from_an_earlier_run_is_continued(tmp_path: Path) -> None:
    (tmp_path / "file.xml.part").write_bytes(BODY[:1000])
    with mirror({"/file.xml": Route(BODY)}) as server:
        download(f"{server.url}/file.xml", tmp_path / "file.xml", known(), QUICK, progress=False)
    assert server.log == [("/file.xml", "bytes=1000-")]
    assert (tmp_path / "file.xml").read_bytes() == BODY and left(tmp_path) == ["file.xml"]


def test_a_server_that_ignores_range_sends_the_whole_file_again(tmp_path: Path) -> None:
    (tmp_path / "file.xml.part").write_bytes(BODY[:1000])
    with mirror({"/file.xml": Route(BODY, faults=["ignore-range"])}) as server:
        download(f"{server.url}/file.xml", tmp_path / "file.xml", known(), QUICK, progress=False)
    assert (tmp_path / "file.xml").read_bytes() == BODY  # not the first 1000 bytes twice


def test_a_busy_server_is_tried_again_with_backoff(tmp_path: Path) -> None:
    with mirror({"/file.xml": Route(BODY, faults=["503", "503"])}) as server:
        download(f"{server.url}/file.xml", tmp_path / "file.xml", known(), QUICK, progress=False)
    assert len(server.log) == 3 and (tmp_path / "file.xml").read_bytes() == BODY


def test_giving_up_names_the_url_the_reason_and_what_to_do_offline(tmp_path: Path) -> None:
    with mirror({"/file.xml": Route(BODY, faults=["503"] * 5)}) as server:
        url = f"{server.url}/file.xml"
        with pytest.raises(SentinetError) as exc:
            download(url, tmp_path / "file.xml", known(), QUICK, progress=False, offline_hint="; offline, do X")
    assert str(exc.value) == f"cannot download {url}: HTTP 503 Service Unavailable (tried 3 times); offline, do X"
    assert len(server.log) == 3


def test_a_404_is_not_retried(tmp_path: Path) -> None:
    with mirror({}) as server:
        url = f"{server.url}/file.xml"
        with pytest.raises(SentinetError) as exc:
            download(url, tmp_path / "file.xml", known(), QUICK, progress=False)
    assert str(exc.value) == f"cannot download {url}: HTTP 404 Not Found"
    assert len(server.log) == 1 and left(tmp_path) == []


def test_a_redirect_is_followed(tmp_path: Path) -> None:
    routes = {"/file.xml": Route(status=302, location="/moved/file.xml"), "/moved/file.xml": Route(BODY)}
    with mirror(routes) as server:
        download(f"{server.url}/file.xml", tmp_path / "file.xml", known(), QUICK, progress=False)
    assert server.paths() == ["/file.xml", "/moved/file.xml"]
    assert (tmp_path / "file.xml").read_bytes() == BODY


def test_a_file_larger_than_its_known_size_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with mirror({"/file.xml": Route(BODY + b"x" * 10)}) as server:
        with pytest.raises(SentinetError, match=f"the server sends {len(BODY) + 10:,} bytes; file.xml has"):
            download(f"{server.url}/file.xml", tmp_path / "file.xml", known(size=len(BODY)), QUICK, progress=False)
    assert left(tmp_path) == []


def test_an_unreachable_host_is_one_line(tmp_path: Path) -> None:
    with mirror({}) as server:
        url = f"{server.url}/file.xml"  # the port is free again once the server is gone
    with pytest.raises(SentinetError) as exc:
        download(url, tmp_path / "file.xml", known(), Retry(tries=2, backoff=0.01), progress=False)
    assert str(exc.value) == f"cannot download {url}: connection refused (tried 2 times)"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", "127.0.0.1:8000/x", "http:///x"])
def test_only_http_urls_are_taken(tmp_path: Path, url: str) -> None:
    with pytest.raises(SentinetError, match="not an http"):
        download(url, tmp_path / "file.xml", known(), QUICK, progress=False)


def test_a_git_blob_id_is_what_git_computes(tmp_path: Path) -> None:
    path = tmp_path / "f.xml"
    path.write_bytes(BODY)
    if os.system("git --version >/dev/null 2>&1") != 0:
        pytest.skip("git is not installed")
    by_git = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout.strip()
    assert file_digest(path, "git-blob-sha1") == by_git
    assert file_digest(path, "sha256") == hashlib.sha256(BODY).hexdigest()
    assert matching(path, known().digests) == known().digests[0]
