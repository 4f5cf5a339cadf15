"""Are the data and vector files where sentinet looks, and are they files sentinet knows?
(data/README.md lists every accepted version with its checksum: the upstream SentiRuEval-2016
originals and the rebuilt files docs/RESULTS.md was made with are both accepted.)

    python scripts/check_data.py          # the training files and navec
    python scripts/check_data.py --test   # the official test sets too (checksums only)

Prints one line per file (found where, which version) and exits 1 if one is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from sentinet.config.paths import resolve_path, search_roots  # noqa: E402
from sentinet.downloads.catalog import DATASETS, VECTORS, KnownFile  # noqa: E402
from sentinet.downloads.digests import matching  # noqa: E402


def files(test: bool) -> list[tuple[KnownFile, str]]:
    """Every known file with the variable that says where it is looked for."""
    data = [(f, "SENTINET_DATA") for d in DATASETS.values() for f in d.files + (d.test_files if test else ())]
    return data + [(p.file, "SENTINET_VECTORS") for p in VECTORS.values()]


def main(argv: list[str]) -> int:
    missing = 0
    for file, variable in files("--test" in argv):
        path = resolve_path(file.path, variable)
        if not path.is_file():
            missing += 1
            print(f"missing  {file.path}: looked in {', '.join(search_roots(variable))}")
            continue
        digest = matching(path, file.digests)
        print(f"ok       {file.path}: {path} ({digest.version})" if digest else
              f"differs  {file.path}: {path} (not a version data/README.md lists: results may differ)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
