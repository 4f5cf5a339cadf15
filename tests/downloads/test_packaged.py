"""Files inside installed packages (navec inside natasha's wheel): found without importing the
package, checked once, and fetched from the package registry with pip when not installed."""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from sentinet.downloads import digests, packaged
from sentinet.downloads.catalog import NAVEC, VECTORS, Digest, KnownFile, PackagedFile
from sentinet.downloads.packaged import installed_file

from ..helpers import assert_one_line_error, run_cli

CONTENT = b"vectors of a fake package\n" * 100


def fake_distribution(site: Path, content: bytes = CONTENT) -> PackagedFile:
    """site/fakevec-1.0.dist-info and site/fakevec/data/vec.tar: an installed distribution."""
    (site / "fakevec-1.0.dist-info").mkdir(parents=True)
    (site / "fakevec-1.0.dist-info/METADATA").write_text("Metadata-Version: 2.1\nName: fakevec\nVersion: 1.0\n")
    (site / "fakevec/data").mkdir(parents=True)
    (site / "fakevec/data/vec.tar").write_bytes(content)
    digest = Digest("sha256", hashlib.sha256(CONTENT).hexdigest(), "fake")
    return PackagedFile(KnownFile("vec.tar", "vec.tar", (digest,)), "fakevec", "1.0", "fakevec/data/vec.tar", "fake")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("SENTINET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_file_is_found_in_the_installed_distribution_and_checked_once(tmp_path: Path, cache: Path,
                                                                           monkeypatch) -> None:
    entry = fake_distribution(tmp_path / "site")
    assert installed_file(entry, [str(tmp_path / "site")]) == tmp_path / "site/fakevec/data/vec.tar"
    assert (cache / "verified.json").is_file()
    monkeypatch.setattr(packaged, "matching", lambda *a: pytest.fail("hashed again"))
    assert installed_file(entry, [str(tmp_path / "site")]) is not None  # the stamp says it was checked


def test_changed_bytes_are_checked_again_and_refused(tmp_path: Path, cache: Path) -> None:
    entry = fake_distribution(tmp_path / "site")
    assert installed_file(entry, [str(tmp_path / "site")]) is not None
    (tmp_path / "site/fakevec/data/vec.tar").write_bytes(CONTENT[:-1] + b"!")  # same size, new mtime
    assert installed_file(entry, [str(tmp_path / "site")]) is None


def test_no_distribution_or_no_file_is_none(tmp_path: Path, cache: Path) -> None:
    entry = fake_distribution(tmp_path / "site")
    assert installed_file(entry, [str(tmp_path / "elsewhere")]) is None
    (tmp_path / "site/fakevec/data/vec.tar").unlink()
    assert installed_file(entry, [str(tmp_path / "site")]) is None


def test_an_unwritable_cache_only_means_checking_again(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("SENTINET_CACHE", str(tmp_path / "file" / "cache"))
    entry = fake_distribution(tmp_path / "site")
    assert installed_file(entry, [str(tmp_path / "site")]) is not None


def _natasha() -> Path:
    try:
        dist = importlib.metadata.distribution("natasha")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("natasha is not installed (make install installs the ru extra)")
    return Path(dist.locate_file(VECTORS["navec"].member))


def test_configs_find_navec_in_natasha_without_importing_it(tmp_path: Path) -> None:
    """The shipped configs' vectors.path, with no folder holding the file: the ru extra's copy."""
    inside = _natasha()
    code = ("import sys; from sentinet.config.paths import resolve_path; "
            f"print(resolve_path({NAVEC!r}, 'SENTINET_VECTORS')); print('natasha' in sys.modules)")
    env = {"SENTINET_VECTORS": str(tmp_path), "SENTINET_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, **env})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(inside.resolve()), "False"]
    assert digests.file_digest(inside, "sha256") == VECTORS["navec"].file.digests[0].hexdigest


def _registry_reachable() -> bool:
    probe = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "natasha"], capture_output=True,
                           text=True, timeout=300)
    return probe.returncode == 0 and "1.6.0" in probe.stdout


def test_navec_comes_from_the_package_registry_verified(tmp_path: Path) -> None:
    """The real thing: pip fetches natasha 1.6.0's wheel, the file is taken out and checked."""
    if not _registry_reachable():
        pytest.skip("the package registry is unreachable from here")
    result = run_cli("embeddings", "download", "navec", "--dir", str(tmp_path / "vectors"), timeout=600)
    assert result.returncode == 0, result.stderr
    target = tmp_path / "vectors" / NAVEC
    assert result.stdout == f"downloaded  {target}  (navec news v1 (natasha 1.6.0))\n"
    assert digests.file_digest(target, "sha256") == VECTORS["navec"].file.digests[0].hexdigest
    assert sorted(p.name for p in (tmp_path / "vectors").iterdir()) == [NAVEC]  # no .part, no wheel
    again = run_cli("embeddings", "download", "navec", "--dir", str(tmp_path / "vectors"))
    assert again.returncode == 0 and again.stdout.startswith("already there  ")


def test_a_different_file_in_the_way_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / NAVEC).write_bytes(b"someone else's file")
    result = run_cli("embeddings", "download", "navec", "--dir", str(tmp_path))
    assert_one_line_error(result, f"{tmp_path / NAVEC}: already there, but not the file sentinet knows as navec")
    assert (tmp_path / NAVEC).read_bytes() == b"someone else's file"


def test_unknown_names_are_one_line() -> None:
    assert_one_line_error(run_cli("embeddings", "download", "glove"), "unknown vectors 'glove'; known: navec")
    assert_one_line_error(run_cli("data", "download", "imdb"), "unknown dataset 'imdb'; known: sentirueval2016")
