"""`sentinet data download` and `sentinet fetch` as users run them, against a real HTTP server on
127.0.0.1 playing the upstream host or a mirror (these machines cannot reach the upstream one).
The success path serves the files of ../shared, so it skips where they are absent; every
failure path serves bytes the test makes. No test set is ever requested from anywhere but here."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinet.downloads.catalog import DATASETS

from ..downloads.mirror import Route, mirror
from ..helpers import assert_one_line_error, run_cli

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sentirueval2016"
TRAIN = [f.remote for f in DATASETS["sentirueval2016"].files]  # bank_train_2016.xml, tkk_train_2016.xml


def shared_files() -> dict[str, Route]:
    if not all((SHARED / name).is_file() for name in TRAIN):
        pytest.skip("the SentiRuEval-2016 files are not in ../shared")
    return {f"/{name}": Route((SHARED / name).read_bytes()) for name in TRAIN}


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_verifies_resumes_and_keeps_what_is_verified(tmp_path: Path) -> None:
    routes = shared_files()
    routes["/tkk_train_2016.xml"].faults.append("drop")  # the connection drops half way once
    with mirror(routes) as server:
        result = run_cli("data", "download", "sentirueval2016", "--dir", str(tmp_path), "--mirror", server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"downloaded  {tmp_path / 'sentirueval2016' / name}  (the rebuilt file docs/RESULTS.md was made with)"
        for name in TRAIN]
    assert files_in(tmp_path) == [f"sentirueval2016/{name}" for name in TRAIN]
    assert [r for p, r in server.log if p == "/tkk_train_2016.xml"][1].startswith("bytes=")  # resumed
    assert all(p in {f"/{name}" for name in TRAIN} for p in server.paths())  # no test file asked for
    with mirror({}) as server:  # nothing is fetched again
        again = run_cli("data", "download", "sentirueval2016", "--dir", str(tmp_path), "--mirror", server.url)
    assert again.returncode == 0 and again.stdout.count("already there") == 2 and server.log == []


def test_the_mirror_variable_is_honoured_and_wrong_bytes_leave_nothing(tmp_path: Path) -> None:
    routes = {f"/{name}": Route(b"<pma_xml_export>not the file</pma_xml_export>") for name in TRAIN}
    with mirror(routes) as server:
        result = run_cli("data", "download", "sentirueval2016", "--dir", str(tmp_path),
                         env={"SENTINET_MIRROR": server.url + "/"})
    assert_one_line_error(result, f"{server.url}/bank_train_2016.xml: the file downloaded is not "
                          "bank_train_2016.xml", "it was not kept")
    assert server.paths() == ["/bank_train_2016.xml"] and files_in(tmp_path) == []


def test_mirror_option_wins_over_the_variable(tmp_path: Path) -> None:
    with mirror({}) as server:
        result = run_cli("data", "download", "sentirueval2016", "--dir", str(tmp_path), "--mirror", server.url,
                         env={"SENTINET_MIRROR": "http://127.0.0.1:9/"})
    assert_one_line_error(result, f"cannot download {server.url}/bank_train_2016.xml: HTTP 404 Not Found; "
                          f"offline, put bank_train_2016.xml in {tmp_path / 'sentirueval2016'}/ by hand")
    assert server.paths() == ["/bank_train_2016.xml"]


def test_an_unreachable_host_is_one_line_saying_what_to_do_offline(tmp_path: Path) -> None:
    with mirror({}) as server:
        dead = server.url  # nothing listens there once the block ends
    result = run_cli("data", "download", "sentirueval2016", "--dir", str(tmp_path), "--tries", "2",
                     env={"SENTINET_MIRROR": dead})
    assert_one_line_error(result, f"cannot download {dead}/bank_train_2016.xml: connection refused (tried 2 times); "
                          f"offline, put bank_train_2016.xml in {tmp_path / 'sentirueval2016'}/ by hand",
                          "--mirror URL or $SENTINET_MIRROR")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", ["file:///tmp/mirror", "not a url"])
def test_a_mirror_must_be_a_web_address(tmp_path: Path, bad: str) -> None:
    result = run_cli("data", "download", "sentirueval2016", "--dir", str(tmp_path), "--mirror", bad)
    assert_one_line_error(result, f"{bad}: not an http(s) URL")


def test_test_sets_are_asked_for_only_with_test(tmp_path: Path) -> None:
    """--test asks for the official test sets after the training files (this server has none:
    a 404, in one line); without it they are never asked for (the first test)."""
    with mirror(shared_files()) as server:
        result = run_cli("data", "download", "sentirueval2016", "--dir", str(tmp_path), "--mirror", server.url,
                         "--test")
    assert_one_line_error(result, f"cannot download {server.url}/banks_test_etalon.xml: HTTP 404 Not Found")
    assert server.paths() == ["/bank_train_2016.xml", "/tkk_train_2016.xml", "/banks_test_etalon.xml"]
    assert files_in(tmp_path) == [f"sentirueval2016/{name}" for name in TRAIN]  # what was verified stays


def test_a_missing_known_file_names_the_command_that_fetches_it(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  train: sentirueval2016/tkk_train_2016.xml\n", encoding="utf-8")
    result = run_cli("train", "--config", str(config), "--dry-run", env={"SENTINET_DATA": str(tmp_path)})
    assert_one_line_error(result, f"sentirueval2016/tkk_train_2016.xml not found in $SENTINET_DATA={tmp_path}, ",
                          "; `sentinet data download sentirueval2016` fetches it, or put it there by hand")


def test_fetch_downloads_what_a_config_names_then_finds_it(tmp_path: Path) -> None:
    """What `make train` runs first: the data is downloaded where training then looks ($SENTINET_DATA
    here), the vectors found; a second fetch finds both."""
    routes = shared_files()
    (tmp_path / "vectors").mkdir()
    (tmp_path / "vectors" / "v.txt").write_text("2 3\nбанк 0.1 0.2 0.3\nкредит 0.3 0.2 0.1\n", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  train: sentirueval2016/bank_train_2016.xml\nvectors:\n  path: v.txt\n", encoding="utf-8")
    env = {"SENTINET_DATA": str(tmp_path / "data"), "SENTINET_VECTORS": str(tmp_path / "vectors")}
    with mirror(routes) as server:
        first = run_cli("fetch", "--config", str(config), env={**env, "SENTINET_MIRROR": server.url})
    assert first.returncode == 0, first.stderr
    bank = tmp_path / "data" / "sentirueval2016" / "bank_train_2016.xml"
    assert first.stdout.splitlines() == [
        f"data.train: downloaded  {bank}  (the rebuilt file docs/RESULTS.md was made with)",
        f"vectors.path: found  {tmp_path / 'vectors' / 'v.txt'}"]
    assert server.paths() == ["/bank_train_2016.xml"]  # only the file the config names
    second = run_cli("fetch", "--config", str(config), env=env)
    assert second.stdout.splitlines()[0] == f"data.train: found  {bank}"


def test_fetch_refuses_an_unknown_missing_file_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  train: mine/reviews.csv\n", encoding="utf-8")
    result = run_cli("fetch", "--config", str(config), env={"SENTINET_DATA": str(tmp_path)})
    assert_one_line_error(result, f"data.train: mine/reviews.csv not found in $SENTINET_DATA={tmp_path}, nor beside "
                          f"the config in {tmp_path}/; put it there")
