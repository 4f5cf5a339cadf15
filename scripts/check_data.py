"""Are the data and vector files where sentinet looks, and are they the files the shipped
configs were made with? (data/README.md lists them with their sizes and SHA-256.)

    python scripts/check_data.py

Prints one line per file (found where, size, checksum match) and exits 1 if one is missing.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from sentinet.config.paths import resolve_path, search_roots  # noqa: E402

FILES = [  # (path as configs write it, where it is looked for, bytes, sha256)
    ("sentirueval2016/bank_train_2016.xml", "SENTINET_DATA", 7_270_817,
     "0439625caac18a8b5ab45882e5c0c8183f3c74f7f4207bc004ade4d63982f739"),
    ("sentirueval2016/tkk_train_2016.xml", "SENTINET_DATA", 6_379_931,
     "4bfdd17e94b6c9c62ca2d2d792ff3d0f55321d00861e01dd550d3f82ac7f6618"),
    ("navec_news_v1_1B_250K_300d_100q.tar", "SENTINET_VECTORS", 26_634_240,
     "f07270833d78523edc5781538d67038e95b43975e4a7ae757c693b687f9cbfca"),
]


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def main() -> int:
    missing = 0
    for name, variable, size, expected in FILES:
        path = resolve_path(name, variable)
        if not path.is_file():
            missing += 1
            print(f"missing  {name}: looked in {', '.join(search_roots(variable))}")
            continue
        same = path.stat().st_size == size and sha256(path) == expected
        print(f"{'ok' if same else 'differs':8} {name}: {path}"
              + ("" if same else " (not the file data/README.md lists: results may differ)"))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
