"""The catalogue of fetchable files agrees with data/README.md, and scripts/check_data.py tells
which accepted version a file is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sentinet.downloads.catalog import DATASETS, NAVEC, VECTORS, dataset_of, vectors_of

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
LENGTHS = {"sha256": 64, "git-blob-sha1": 40}


def all_files():
    for dataset in DATASETS.values():
        yield from dataset.files + dataset.test_files
    yield from (p.file for p in VECTORS.values())


def test_every_checksum_is_well_formed_and_listed_in_data_readme() -> None:
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for file in all_files():
        for digest in file.digests:
            assert len(digest.hexdigest) == LENGTHS[digest.algorithm] and int(digest.hexdigest, 16) >= 0
            assert f"`{digest.hexdigest}`" in readme, (file.path, digest.version)


def test_the_pinned_commit_and_the_test_sets_sizes_are_the_upstream_ones() -> None:
    dataset = DATASETS["sentirueval2016"]
    assert dataset.base_url.endswith("/mokoron/sentirueval/95b24c09f55a072cc83cb1f05ceac235905bdf01")
    assert {f.remote: f.size for f in dataset.test_files} == {"banks_test_etalon.xml": 2_684_937,
                                                              "tkk_test_etalon.xml": 1_709_108}
    assert [f.remote for f in dataset.files] == ["bank_train_2016.xml", "tkk_train_2016.xml"]


def test_config_paths_map_to_known_files() -> None:
    assert dataset_of("sentirueval2016/bank_train_2016.xml")[1].remote == "bank_train_2016.xml"
    assert dataset_of("bank_train_2016.xml") is None and dataset_of("mine/reviews.csv") is None
    assert vectors_of(NAVEC)[0] == "navec" and vectors_of("other.bin") is None


def test_check_data_accepts_the_rebuilt_files_and_flags_others(tmp_path: Path) -> None:
    rebuilt = SHARED / "data" / "sentirueval2016" / "bank_train_2016.xml"
    if not rebuilt.is_file():
        pytest.skip("the SentiRuEval-2016 files are not in ../shared")
    (tmp_path / "data/sentirueval2016").mkdir(parents=True)
    shutil.copy(rebuilt, tmp_path / "data/sentirueval2016/bank_train_2016.xml")
    (tmp_path / "data/sentirueval2016/tkk_train_2016.xml").write_text("<pma_xml_export/>", encoding="utf-8")
    env = {**os.environ, "SENTINET_DATA": str(tmp_path / "data"), "SENTINET_VECTORS": str(tmp_path / "none")}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_data.py")], capture_output=True,
                          text=True, env=env, timeout=300)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok       sentirueval2016/bank_train_2016.xml: ")
    assert lines[0].endswith("(the rebuilt file docs/RESULTS.md was made with)")
    assert lines[1].startswith("differs  sentirueval2016/tkk_train_2016.xml: ")
    # navec: found in the installed natasha (the ru extra), else missing and exit 1
    assert lines[2].startswith("ok       navec") if done.returncode == 0 else lines[2].startswith("missing  navec")
