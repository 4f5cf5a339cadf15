"""Pretrained word vectors behind one small interface: opening a vectors file (word2vec,
fastText, navec, an export's bundle) and looking words up. Training vectors on your own
texts is sentinet.data.word2vec.

The model only needs vectors for the words of its vocabulary, so a store is a lookup, not
a matrix: navec's product-quantized rows are decoded on demand and never unpacked whole.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from typing import TYPE_CHECKING

import numpy as np

from sentinet.errors import SentinetError, UnsafeFileError, one_line
from sentinet.data.vectors_files import (
    FASTTEXT_MAGIC, BadFile, cause, check_fasttext_file, check_word2vec_header, quiet, special_file_problem,
)

if TYPE_CHECKING:  # gensim takes seconds to import: only the paths that use it import it
    from gensim.models import KeyedVectors

VECTOR_FORMATS = ("word2vec", "word2vec-text", "kv", "fasttext", "navec", "bundle")
TEXT_SUFFIXES = (".vec", ".txt", ".vec.gz", ".txt.gz")
NAVEC_SPECIAL = ("<unk>", "<pad>")  # navec's own padding/unknown rows, not words
EMPTY_BUNDLE_MAX_DIM = 1 << 16  # an export with no extra words still gives its (model's) dimension


class VectorStore(Protocol):
    """Read-only word → vector lookup; only the requested rows are ever materialised."""

    path: str
    format: str
    dim: int

    def __contains__(self, word: str) -> bool: ...
    def __len__(self) -> int: ...
    def lookup(self, words: Sequence[str]) -> np.ndarray: ...


@dataclass
class GensimVectors:
    """A gensim KeyedVectors; for fastText, ``in`` and ``lookup`` also cover unseen words."""

    path: str
    format: str
    kv: "KeyedVectors" = field(repr=False)

    @property
    def dim(self) -> int:
        return self.kv.vector_size

    def __contains__(self, word: str) -> bool:
        if self.format == "fasttext" and word not in self.kv.key_to_index:
            return self._has_ngrams(word)
        return word in self.kv

    def _has_ngrams(self, word: str) -> bool:
        """An unseen word has a fastText vector when it has any character n-gram (every n-gram
        hashes into a bucket): with min_n above a word's length + 2 it has none."""
        from gensim.models.fasttext import ft_ngram_hashes

        kv = self.kv
        return kv.bucket > 0 and len(ft_ngram_hashes(word, kv.min_n, kv.max_n, kv.bucket)) > 0

    def __len__(self) -> int:
        return len(self.kv)

    def lookup(self, words: Sequence[str]) -> np.ndarray:
        if not words:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self.kv[list(words)], dtype=np.float32)  # get_vector per word


@dataclass
class NavecVectors:
    """natasha's navec: row i = concat over q of ``codes[q, indexes[i, q]]``."""

    path: str
    words: dict[str, int] = field(repr=False)
    indexes: np.ndarray = field(repr=False)  # uint8 (vectors, qdim)
    codes: np.ndarray = field(repr=False)  # float32 (qdim, centroids, dim // qdim)
    format: str = "navec"

    @property
    def dim(self) -> int:
        return self.codes.shape[0] * self.codes.shape[2]

    def __contains__(self, word: str) -> bool:
        return word in self.words

    def __len__(self) -> int:
        return len(self.words)

    def lookup(self, words: Sequence[str]) -> np.ndarray:
        rows = self.indexes[[self.words[w] for w in words]]  # (k, qdim)
        qdim = self.codes.shape[0]
        parts = self.codes[np.arange(qdim), rows]  # (k, qdim, dim // qdim)
        return parts.reshape(len(words), self.dim).astype(np.float32, copy=False)


@dataclass
class BundleVectors:
    """Rows shipped inside an exported run (``sentinet export``): a ``.npz`` holding ``words``
    (a unicode array) and ``vectors`` [N, dim], read without pickle."""

    path: str
    words: dict[str, int] = field(repr=False)
    matrix: np.ndarray = field(repr=False)
    format: str = "bundle"

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def __contains__(self, word: str) -> bool:
        return word in self.words

    def __len__(self) -> int:
        return len(self.words)

    def lookup(self, words: Sequence[str]) -> np.ndarray:
        return self.matrix[[self.words[w] for w in words]].astype(np.float32, copy=False)


def write_bundle(path: Path, words: Sequence[str], matrix: np.ndarray) -> None:
    from sentinet.fileio import atomic_open

    vectors = np.asarray(matrix, dtype=np.float32)
    if vectors.ndim != 2:  # a (0, dim) matrix is already 2-D: reshape(0, -1) cannot say how wide
        vectors = vectors.reshape(len(words), -1)
    with atomic_open(path, "wb") as f:  # stored, not deflated: the archive's gzip compresses it, and
        np.savez(f, words=np.asarray(list(words), dtype=str), vectors=vectors)  # predict reads it at once


def first_words(store: VectorStore, limit: int) -> list[str]:
    """The first ``limit`` words of a vectors file in its own order (word2vec and fastText
    files list the most frequent first)."""
    store = store.parts[0] if isinstance(store, ConcatVectors) else store
    if isinstance(store, GensimVectors):
        words = store.kv.index_to_key
    else:
        words = list(store.words)
    return list(words[:limit])


@dataclass
class ConcatVectors:
    """Stores side by side: a word's vector is its vector in each store, concatenated, with
    zeros where a store lacks the word — e.g. navec + word2vec trained in-domain."""

    parts: list
    format: str = "concat"

    @property
    def path(self) -> str:
        return self.parts[0].path

    @property
    def dim(self) -> int:
        return sum(p.dim for p in self.parts)

    def __contains__(self, word: str) -> bool:
        return any(word in p for p in self.parts)

    def __len__(self) -> int:
        return max(len(p) for p in self.parts)  # a lower bound: the union is not counted

    def lookup(self, words: Sequence[str]) -> np.ndarray:
        blocks = []
        for part in self.parts:
            block = np.zeros((len(words), part.dim), dtype=np.float32)
            present = [i for i, w in enumerate(words) if w in part]
            if present:
                block[present] = part.lookup([words[i] for i in present])
            blocks.append(block)
        return np.concatenate(blocks, axis=1)


# --------------------------------------------------------------------------------------
# Opening


def open_sources(sources: dict, expected_dim: int | None = None) -> VectorStore:
    """Re-open what a run recorded in ``vocab.vectors``: {"path", "format", "concat"}."""
    main = open_vectors(sources["path"], sources.get("format", "auto"))
    extra = [open_vectors(p) for p in sources.get("concat", [])]
    store = ConcatVectors([main, *extra]) if extra else main
    if expected_dim is not None and store.dim != expected_dim:
        raise SentinetError(f"{sources['path']}: vectors have dimension {store.dim}, expected {expected_dim}")
    return store


def refuse_unsafe_sources(sources: dict) -> None:
    """Stop before anything is opened if a run's recorded vectors could not be vectors: a pickle
    format (``refuse_pickles``), or a path into /proc, /sys or /dev or to a FIFO, device,
    socket or folder. A run directory is data from anywhere, so its vocab.json must not make
    sentinet show the environment, block on a pipe or read a device. A file that is simply
    missing is left to the caller, which may tolerate it."""
    refuse_pickles(sources)
    for path in [sources.get("path"), *sources.get("concat", [])]:
        problem = special_file_problem(Path(path)) if path else None
        if problem:
            raise UnsafeFileError(f"names {path} as its vectors, which {problem}")


def refuse_pickles(sources: dict) -> None:
    """Stop before anything is opened if a run's recorded vectors are in a pickle format:
    a run directory from elsewhere must not be able to make sentinet run code."""
    entries = [(sources.get("path"), sources.get("format", "auto"))]
    entries += [(p, "auto") for p in sources.get("concat", [])]
    for path, format in entries:
        if format == "kv" or (format == "auto" and str(path).lower().endswith(".kv")):
            raise UnsafeFileError(
                f"names {path} as its vectors, a gensim .kv file: a Python pickle, which can run "
                "code when opened, so sentinet refuses it"
            )


def detect_vectors_format(path: Path) -> str:
    """Guess the format from the extension; .bin needs a peek because two formats use it."""
    name = Path(path).name.lower()
    if name.endswith(".tar"):
        return "navec"
    if name.endswith(".kv"):
        return "kv"
    if name.endswith(".npz"):
        return "bundle"
    if name.endswith(TEXT_SUFFIXES):
        return "word2vec-text"
    if name.endswith((".bin", ".bin.gz")):
        return "fasttext" if _starts_with_fasttext_magic(Path(path)) else "word2vec"
    suffix = "".join(Path(path).suffixes) or "(none)"
    raise SentinetError(
        f"{path}: unknown vectors extension {suffix}; "
        f"set vectors.format to one of {', '.join(VECTOR_FORMATS)}"
    )


def _starts_with_fasttext_magic(path: Path) -> bool:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
    except (OSError, EOFError) as exc:
        raise SentinetError(f"{path}: cannot read vectors file ({one_line(exc)})") from None
    return len(head) == 4 and int.from_bytes(head, "little") == FASTTEXT_MAGIC


def open_vectors(
    path: str | Path, format: str = "auto", expected_dim: int | None = None
) -> VectorStore:
    """Open a vectors file; any bad file becomes a one-line SentinetError naming it, and one
    that is no file at all (/proc, a FIFO, a device) an UnsafeFileError."""
    path = Path(path)
    problem = special_file_problem(path)
    if problem:
        raise UnsafeFileError(f"{path}: {problem}")
    if not path.is_file():
        raise SentinetError(f"{path}: vectors file not found")
    if format == "auto":
        format = detect_vectors_format(path)
    if format not in VECTOR_FORMATS:
        raise SentinetError(f"vectors.format: {format!r} is not one of auto, {', '.join(VECTOR_FORMATS)}")
    if format == "word2vec" and not path.name.lower().endswith(".gz") and _starts_with_fasttext_magic(path):
        format = "fasttext"  # a word2vec .bin starts with ASCII digits, so this is a fastText one
    try:
        store = _load(path, format)
    except SentinetError:
        raise
    except BadFile as exc:
        raise SentinetError(f"{path}: not a readable {format} file ({exc})") from None
    except Exception as exc:  # gensim/numpy/tarfile say "corrupt" in many different ways
        raise SentinetError(f"{path}: not a readable {format} file ({cause(exc)})") from None
    if store.dim < 1:
        raise SentinetError(f"{path}: its vectors have dimension {store.dim}; word vectors need at least 1")
    if expected_dim is not None and store.dim != expected_dim:
        raise SentinetError(
            f"{path}: vectors have dimension {store.dim}, expected {expected_dim} (vectors.dim)"
        )
    return store


def _load(path: Path, format: str) -> VectorStore:
    if format == "navec":
        return _load_navec(path)
    if format == "bundle":
        return _load_bundle(path)
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import load_facebook_vectors

    if format == "fasttext":
        if path.name.lower().endswith(".gz"):  # gensim's fastText reader needs a plain file
            raise SentinetError(f"{path}: gensim cannot read a gzipped fastText .bin; gunzip it")
        check_fasttext_file(path)
        with quiet("gensim.models._fasttext_bin"):  # it logs undecodable words byte for byte
            kv = load_facebook_vectors(str(path))
    elif format == "kv":
        raise UnsafeFileError(
            f"{path}: gensim .kv files are Python pickles, which can run code when opened, so "
            "sentinet never loads them; if you trust the file, have gensim write it in word2vec "
            "binary format yourself (save_word2vec_format('X.bin', binary=True)) and use the .bin"
        )
    else:
        check_word2vec_header(path, binary=format == "word2vec")
        kv = KeyedVectors.load_word2vec_format(str(path), binary=format == "word2vec")
    return GensimVectors(str(path), format, kv)


def _load_bundle(path: Path) -> BundleVectors:
    """An export's vectors.npz, its inflated size checked against the unpack budget first
    (numpy would inflate every member whole): ``words`` [N] text, ``vectors`` [N, dim] floats."""
    from sentinet.data.npz import check_npz

    check_npz(path)
    with np.load(path, allow_pickle=False) as data:
        words, matrix = data["words"], data["vectors"]
    if words.dtype.kind != "U" or words.ndim != 1 or matrix.dtype.kind != "f" or matrix.ndim != 2 \
            or len(words) != len(matrix):
        raise SentinetError(f"{path}: not a sentinet vectors bundle (expected words [N] and vectors "
                            "[N, dim] floats)")
    if not len(words) and matrix.shape[1] > EMPTY_BUNDLE_MAX_DIM:  # nothing vouches for it
        raise SentinetError(f"{path}: an empty bundle of dimension {matrix.shape[1]:,}")
    words = [str(w) for w in words]
    return BundleVectors(str(path), {w: i for i, w in enumerate(words)}, matrix)


def _load_navec(path: Path) -> NavecVectors:
    with tarfile.open(path) as tar:  # read into memory only: nothing is ever extracted
        vocab = _gunzip(_member(tar, path, "vocab.bin"), path)
        pq = _member(tar, path, "pq.bin")
    n = int(np.frombuffer(vocab, "<u4", count=1)[0])
    words = vocab[4 + 4 * n :].decode("utf-8").split("\n")  # the n counts are skipped
    vectors, dim, qdim, centroids = (int(x) for x in np.frombuffer(pq, "<u4", count=4))
    size = 16 + vectors * qdim + 4 * dim * centroids
    if dim == 0 or vectors == 0:  # with no rows, nothing would vouch for the dimension
        raise SentinetError(f"{path}: navec pq.bin claims {vectors} vectors of dimension {dim}; "
                            "word vectors need at least 1 of each")
    if len(words) != n or n != vectors or qdim == 0 or dim % qdim or len(pq) != size:
        raise SentinetError(f"{path}: navec vocab.bin and pq.bin do not match (corrupt file?)")
    indexes = np.frombuffer(pq, np.uint8, vectors * qdim, offset=16).reshape(vectors, qdim)
    codes = np.frombuffer(pq, "<f4", dim * centroids, offset=16 + vectors * qdim)
    if vectors and indexes.max() >= centroids:
        raise SentinetError(f"{path}: navec pq.bin has centroid indexes out of range")
    index = dict(zip(words, range(n)))  # a third faster than a comprehension: predict start-up
    for special in NAVEC_SPECIAL:
        index.pop(special, None)
    return NavecVectors(str(path), index, indexes, codes.reshape(qdim, centroids, dim // qdim))


NAVEC_MEMBER_LIMIT = 1 << 30  # the largest navec file's pq.bin is ~50 MB


def _member(tar: tarfile.TarFile, path: Path, name: str) -> bytes:
    """One member's bytes. Only a regular file of sane size: tarfile would follow a link
    member to another member, and a compressed .tar could claim any size."""
    try:
        member = tar.getmember(name)
    except KeyError:
        raise SentinetError(f"{path}: navec archive has no {name}") from None
    if not member.isreg() or member.issparse():
        raise SentinetError(f"{path}: navec archive member {name} is not a regular file")
    if not 0 <= member.size <= NAVEC_MEMBER_LIMIT:
        raise SentinetError(f"{path}: navec archive member {name} is {member.size} bytes, "
                            f"over the {NAVEC_MEMBER_LIMIT >> 20} MB a navec file can need")
    return tar.extractfile(member).read()


def _gunzip(data: bytes, path: Path) -> bytes:
    """vocab.bin, decompressed no further than the member limit (no decompression bomb)."""
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = stream.decompress(data, NAVEC_MEMBER_LIMIT + 1)
    if len(out) > NAVEC_MEMBER_LIMIT:
        raise SentinetError(f"{path}: navec vocab.bin expands past {NAVEC_MEMBER_LIMIT >> 20} MB")
    if not stream.eof:
        raise SentinetError(f"{path}: navec vocab.bin is truncated (corrupt file?)")
    return out


def coverage(counts: Mapping[str, int], store: VectorStore) -> tuple[float, float]:
    """(token coverage, type coverage): how much of a word→count table has vectors."""
    if not counts:
        return 0.0, 0.0
    known = [w for w in counts if w in store]
    tokens = sum(counts.values())
    token_cov = sum(counts[w] for w in known) / tokens if tokens else 0.0
    return token_cov, len(known) / len(counts)


def is_word(token: str) -> bool:
    """A token a vectors file could hold: it has a letter and is no placeholder (<url>,
    <user>, <num>). Punctuation, emoticons and emoji are tokens, not words."""
    return not (token.startswith("<") and token.endswith(">")) and any(c.isalpha() for c in token)


def word_coverage(counts: Mapping[str, int], store: VectorStore) -> tuple[float, float, int]:
    """``coverage`` of the words only (``is_word``), and how many word types there are: the
    number to read, since no vectors file has ``))`` or 👍."""
    words = {w: n for w, n in counts.items() if is_word(w)}
    return (*coverage(words, store), len(words))
