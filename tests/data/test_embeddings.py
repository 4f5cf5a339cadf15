"""Every vectors format round-trips through tiny gensim-made fixtures; bad files fail cleanly."""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import socket
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from gensim.models import FastText, KeyedVectors
from gensim.models.fasttext import save_facebook_model

from sentinet.data import embeddings
from sentinet.data import vectors_files
from sentinet.data import word2vec
from sentinet.config.schema import Word2VecConfig
from sentinet.data.embeddings import (
    coverage,
    detect_vectors_format,
    open_vectors,
)
from sentinet.data.word2vec import default_cache_dir, train_word2vec
from sentinet.errors import SentinetError, UnsafeFileError

from tests.helpers import write_navec

WORDS = ["банк", "сбербанк", "хорошо", "плохо", "bank", "ok"]
VECTORS = np.arange(len(WORDS) * 4, dtype=np.float32).reshape(len(WORDS), 4) / 8 - 1
REAL_NAVEC = (
    Path(__file__).resolve().parents[3] / "shared/embeddings/navec_news_v1_1B_250K_300d_100q.tar"
)


@pytest.fixture
def kv() -> KeyedVectors:
    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(WORDS, VECTORS)
    return kv


def save(kv: KeyedVectors, path: Path) -> Path:
    if path.suffix == ".kv":
        kv.save(str(path))
    else:
        kv.save_word2vec_format(str(path), binary=".bin" in path.suffixes)
    return path


# --------------------------------------------------------------------------------------
# gensim formats


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("w.bin", "word2vec"),
        ("w.bin.gz", "word2vec"),
        ("w.txt", "word2vec-text"),
        ("w.vec", "word2vec-text"),
        ("w.txt.gz", "word2vec-text"),
    ],
)
def test_gensim_formats_round_trip(tmp_path: Path, kv: KeyedVectors, name: str, fmt: str) -> None:
    path = save(kv, tmp_path / name)
    assert detect_vectors_format(path) == fmt
    store = open_vectors(path, expected_dim=4)
    assert (store.format, store.dim, len(store), store.path) == (fmt, 4, len(WORDS), str(path))
    assert "сбербанк" in store and "bank" in store and "втб" not in store
    rows = store.lookup(["ok", "банк", "ok"])
    assert rows.dtype == np.float32 and rows.shape == (3, 4)
    np.testing.assert_allclose(rows, VECTORS[[5, 0, 5]], rtol=1e-6)
    assert store.lookup([]).shape == (0, 4)


def test_explicit_format_overrides_extension(tmp_path: Path, kv: KeyedVectors) -> None:
    path = tmp_path / "vectors.data"
    kv.save_word2vec_format(str(path), binary=False)
    assert open_vectors(path, format="word2vec-text").dim == 4


def test_fasttext_native_bin(tmp_path: Path) -> None:
    sentences = [["банк", "хорошо", "работает"], ["сбербанк", "плохо", "работает"]] * 5
    model = FastText(sentences, vector_size=8, min_count=1, epochs=2, bucket=1000, seed=1)
    path = tmp_path / "ft.bin"
    save_facebook_model(model, str(path))
    assert detect_vectors_format(path) == "fasttext"
    store = open_vectors(path, expected_dim=8)
    assert (store.format, store.dim, len(store)) == ("fasttext", 8, len(model.wv))
    known = ["банк", "работает"]
    expected = np.stack([model.wv[w] for w in known])
    np.testing.assert_allclose(store.lookup(known), expected, atol=1e-6)
    assert "банками" in store  # unseen, but its character n-grams give it a vector
    assert store.lookup(["банками"]).shape == (1, 8)

    gz = tmp_path / "ft.bin.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert detect_vectors_format(gz) == "fasttext"
    with pytest.raises(SentinetError, match=r"ft\.bin\.gz: gensim cannot read a gzipped fastText"):
        open_vectors(gz)


# --------------------------------------------------------------------------------------
# navec


@pytest.fixture
def navec_path(tmp_path: Path) -> Path:
    # 3 sub-vectors of 2 dims, 2 centroids each: codes[q, c] = [10q + c, -(10q + c)]
    codes = np.array([[[10 * q + c, -(10 * q + c)] for c in range(2)] for q in range(3)])
    indexes = np.array([[0, 1, 0], [1, 1, 1], [0, 0, 0], [1, 0, 1], [0, 0, 0]])
    words = ["банк", "хорошо", "ok", "<unk>", "<pad>"]
    return write_navec(tmp_path / "tiny.tar", words, indexes, codes)


def test_navec(navec_path: Path) -> None:
    assert detect_vectors_format(navec_path) == "navec"
    store = open_vectors(navec_path, expected_dim=6)
    assert (store.format, store.dim, len(store)) == ("navec", 6, 3)
    assert "банк" in store and "ok" in store
    assert "<unk>" not in store and "<pad>" not in store and "втб" not in store
    rows = store.lookup(["хорошо", "банк"])
    assert rows.dtype == np.float32
    np.testing.assert_array_equal(rows, [[1, -1, 11, -11, 21, -21], [0, 0, 11, -11, 20, -20]])


@pytest.mark.skipif(not REAL_NAVEC.is_file(), reason="shared navec vectors not available")
def test_real_navec() -> None:
    store = open_vectors(REAL_NAVEC, expected_dim=300)
    assert store.dim == 300 and len(store) == 250_000
    words = ["сбербанк", "банк", "хорошо"]
    assert all(w in store for w in words) and "<unk>" not in store
    rows = store.lookup(words)
    assert rows.shape == (3, 300) and rows.dtype == np.float32 and np.isfinite(rows).all()


# --------------------------------------------------------------------------------------
# Bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SentinetError, match=r"nope\.bin: vectors file not found"):
        open_vectors(tmp_path / "nope.bin")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "vectors.xyz"
    path.write_text("hello")
    message = r"vectors\.xyz: unknown vectors extension \.xyz; set vectors\.format to one of"
    with pytest.raises(SentinetError, match=message):
        open_vectors(path)
    with pytest.raises(SentinetError, match="vectors.format: 'glove' is not one of"):
        open_vectors(path, format="glove")


def test_garbage_bin(tmp_path: Path) -> None:
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SentinetError, match=r"garbage\.bin: not a readable word2vec file"):
        open_vectors(path)


def test_garbage_with_fasttext_magic(tmp_path: Path) -> None:
    path = tmp_path / "ft.bin"
    path.write_bytes((793712314).to_bytes(4, "little") + b"\x00\x01" * 10)
    with pytest.raises(SentinetError, match=r"ft\.bin: not a readable fasttext file"):
        open_vectors(path)


def test_truncated_text(tmp_path: Path, kv: KeyedVectors) -> None:
    path = save(kv, tmp_path / "w.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")  # header promises 6 words
    with pytest.raises(SentinetError, match=r"w\.txt: not a readable word2vec-text file"):
        open_vectors(path)
    path.write_text("2 4\nбанк 1 2 3\nok 1 2 3 4\n", encoding="utf-8")  # a short row
    with pytest.raises(SentinetError, match=r"w\.txt: not a readable word2vec-text file"):
        open_vectors(path)


def test_corrupt_tar(tmp_path: Path) -> None:
    (tmp_path / "bad.tar").write_bytes(b"not what you think")
    with pytest.raises(SentinetError, match=r"bad\.tar: not a readable"):
        open_vectors(tmp_path / "bad.tar")


def test_kv_is_refused(tmp_path: Path, kv: KeyedVectors) -> None:
    """.kv is a pickle: open_vectors never loads it, and says how to convert a trusted one."""
    path = save(kv, tmp_path / "w.kv")
    with pytest.raises(UnsafeFileError, match=r"w\.kv: gensim \.kv files are Python pickles.*save_word2vec_format"):
        open_vectors(path)


def test_navec_missing_member_and_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "empty.tar"
    with tarfile.open(path, "w"):
        pass
    with pytest.raises(SentinetError, match=r"empty\.tar: navec archive has no vocab\.bin"):
        open_vectors(path)
    codes = np.zeros((1, 2, 2))
    bad = write_navec(tmp_path / "bad.tar", ["a", "b"], np.zeros((3, 1)), codes)
    with pytest.raises(SentinetError, match=r"bad\.tar: navec vocab\.bin and pq\.bin do not match"):
        open_vectors(bad)


@pytest.mark.parametrize("name", ["w.txt", "w.bin"])
def test_wrong_dim(tmp_path: Path, kv: KeyedVectors, name: str) -> None:
    path = save(kv, tmp_path / name)
    message = rf"{name}: vectors have dimension 4, expected 300 \(vectors\.dim\)"
    with pytest.raises(SentinetError, match=message):
        open_vectors(path, expected_dim=300)


def test_wrong_dim_navec(navec_path: Path) -> None:
    with pytest.raises(SentinetError, match="dimension 6, expected 300"):
        open_vectors(navec_path, expected_dim=300)


# --------------------------------------------------------------------------------------
# Files that lie, or are no files (the CLI's side: tests/stories/test_hostile_vectors.py)


def fasttext_file(path: Path) -> Path:
    sentences = [["банк", "хорошо", "работает"], ["сбербанк", "плохо", "работает"]] * 5
    save_facebook_model(FastText(sentences, vector_size=8, min_count=1, epochs=1, bucket=50, seed=1), str(path))
    return path


def fasttext_header(dim: int, words: int, bucket: int, magic: int = 793712314) -> bytes:
    """fastText 12's header and dictionary counts, no pruning."""
    args = struct.pack("=12id", dim, 5, 5, 1, 5, 1, 1, 1, bucket, 3, 6, 100, 1e-4)
    return struct.pack("=2i", magic, 12) + args + struct.pack("=3i", words, words, 0) + struct.pack("=2q", 9, -1)


LIES = {
    # name: (file name, bytes, fragment of the message)
    "text claiming 2G rows": ("w.txt", b"2000000000 1\n",
                              "claims 2,000,000,000 rows of dimension 1, more than its 13 bytes"),
    "binary claiming 300M rows": ("w.bin", b"300000000 1\n", "claims 300,000,000 rows"),
    "gzipped text claiming 300M rows": ("w.vec.gz", gzip.compress(b"300000000 1\n"), "claims 300,000,000 rows"),
    "gzipped binary claiming 300M rows": ("w.bin.gz", gzip.compress(b"300000000 1\n"), "claims 300,000,000 rows"),
    "text claiming a huge dimension": ("w.txt", b"1 2000000000\na 1\n", "rows of dimension 2000000000"),
    "text a byte short of its row": ("w.txt", "1 4\nа 1 2\n".encode(), "claims 1 rows of dimension 4"),
    "binary a byte short of its row": ("w.bin", b"1 2\n" + bytes(8), "claims 1 rows of dimension 2"),
    "text of dimension 0": ("w.txt", b"2 0\na\nb\n", "gives 2 rows of dimension 0"),
    "binary of dimension 0": ("w.bin", b"1 0\na ", "gives 1 rows of dimension 0"),
    "negative dimension": ("w.txt", b"1 -4\na 1\n", "dimension -4"),
    "negative rows": ("w.txt", b"-1 4\n", "gives -1 rows"),
    "no rows": ("w.txt", b"0 300\n", "gives 0 rows"),
    "three numbers": ("w.txt", b"1 2 3\n", "not a '<rows> <dim>' header"),
    "a header of a megabyte": ("w.txt", b"1" * (1 << 20), "not a '<rows> <dim>' header"),
    "fastText of dimension 0": ("f.bin", fasttext_header(0, 1, 0) + b"a\0" + bytes(60), "dimension 0"),
    "fastText of no words and no buckets": ("f.bin", fasttext_header(8, 0, 0) + bytes(60), "0 words and 0 buckets"),
    "fastText claiming 2G buckets": ("f.bin", fasttext_header(300, 1, 2_000_000_000) + b"a\0" + bytes(60),
                                     "2,000,000,001 rows of dimension 300, more than its"),
    "fastText whose word never ends": ("f.bin", fasttext_header(1, 3, 0) + b"x" * 200, "ends inside its word list"),
    "fastText whose matrix disagrees": ("f.bin", fasttext_header(1, 1, 0) + b"a\0" + bytes(9) + b"\0"
                                        + struct.pack("=2q", 1, 2) + bytes(8), "does not match its header"),
    "quantized fastText": ("f.bin", fasttext_header(1, 1, 0) + b"a\0" + bytes(9) + b"\1" + bytes(40), "quantized"),
    "supervised fastText": ("f.bin", fasttext_header(1, 1, 0)[:-28] + struct.pack("=3i", 2, 1, 1)
                            + struct.pack("=2q", 9, -1) + bytes(60), "supervised"),
}


@pytest.mark.parametrize("case", list(LIES))
def test_a_header_that_lies_is_refused_before_gensim_allocates(tmp_path: Path, case: str) -> None:
    name, content, fragment = LIES[case]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SentinetError, match="not a readable") as caught:
        open_vectors(path)
    assert fragment in str(caught.value) and str(path) in str(caught.value)


def test_navec_of_no_vectors_or_dimension_0_is_refused(tmp_path: Path) -> None:
    zero = write_navec(tmp_path / "zero.tar", ["a", "b"], np.zeros((2, 1)), np.zeros((1, 1, 0)))
    with pytest.raises(SentinetError, match=r"zero\.tar: navec pq\.bin claims 2 vectors of dimension 0"):
        open_vectors(zero)
    empty = write_navec(tmp_path / "empty.tar", [], np.zeros((0, 1)), np.zeros((1, 0, 1000)))
    with pytest.raises(SentinetError, match=r"claims 0 vectors of dimension 1000"):
        open_vectors(empty)


def test_honest_files_of_the_smallest_possible_rows_pass(tmp_path: Path) -> None:
    """The size bounds are lower bounds: one-byte words and one-digit values pass."""
    text = tmp_path / "t.txt"
    text.write_text("3 2\na 1 0\nb 0 1\nc 1 1", encoding="utf-8")  # no final newline
    binary = tmp_path / "t.bin"
    binary.write_bytes(b"2 1\n" + b"".join(w + b" " + np.ones(1, "<f4").tobytes() for w in (b"a", b"b")))
    gz = tmp_path / "t.vec.gz"
    gz.write_bytes(gzip.compress(text.read_bytes(), 9))
    for path, dim in ((text, 2), (binary, 1), (gz, 2)):
        assert open_vectors(path).dim == dim


def test_a_fasttext_bin_cut_anywhere_is_one_error_not_a_hang(tmp_path: Path) -> None:
    """gensim reads a word until a NUL that a cut file never has, forever; every cut of the
    header and word list, and of the input matrix every 61st byte, is refused before gensim
    runs. A cut in the output matrix, which vectors never read, still loads."""
    whole = fasttext_file(tmp_path / "whole.bin").read_bytes()
    words = whole.index("работает".encode()) + 40
    vectors_end = len(whole) - (17 + 5 * 8 * 4)  # the output matrix: a header, 5 words × 8 floats
    cut = tmp_path / "cut.bin"
    for end in [*range(4, words), *range(words, vectors_end, 61), vectors_end - 1]:
        cut.write_bytes(whole[:end])
        with pytest.raises(SentinetError, match=r"cut\.bin: not a readable fasttext file"):
            open_vectors(cut, format="fasttext")
    for end in (vectors_end, len(whole)):
        cut.write_bytes(whole[:end])
        assert open_vectors(cut, expected_dim=8).dim == 8


def test_a_long_fasttext_word_list_is_walked_in_chunks(tmp_path: Path) -> None:
    """A word list longer than a read chunk, with a word across the boundary, walks whole."""
    words = [f"слово{i}".encode() for i in range(120_000)]  # ~1.9 MB of entries
    path = tmp_path / "long.bin"
    path.write_bytes(fasttext_header(1, len(words), 0) + b"".join(w + b"\0" + struct.pack("=qb", 1, 0) for w in words)
                     + b"\0" + struct.pack("=2q", len(words), 1) + bytes(4 * len(words)))
    vectors_files.check_fasttext_file(path)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(vectors_files.BadFile, match="ends inside its vectors matrix"):
        vectors_files.check_fasttext_file(path)


def test_library_messages_never_quote_the_file(tmp_path: Path) -> None:
    """gensim would say: could not convert string to float: 'hunter2'."""
    path = tmp_path / "w.txt"
    path.write_text("2 3\nбанк 1 hunter2 3\nok 1 2 3\n", encoding="utf-8")
    with pytest.raises(SentinetError, match="not a readable word2vec-text file") as caught:
        open_vectors(path)
    assert "hunter2" not in str(caught.value)
    path.write_text("SECRET=hunter2 x\n", encoding="utf-8")
    with pytest.raises(SentinetError) as caught:
        open_vectors(path)
    assert "hunter2" not in str(caught.value)


NOT_FILES = {"/proc/self/environ": "is in /proc, a kernel interface", "/dev/zero": "is in /dev",
             "/dev/null": "is in /dev", "/sys/kernel/mm/transparent_hugepage/enabled": "is in /sys"}


@pytest.mark.parametrize("where", ["fifo", "folder", "socket", "link to /proc", *NOT_FILES])
def test_what_is_no_file_is_refused_without_opening_it(tmp_path: Path, where: str) -> None:
    path, fragment = tmp_path / "v.txt", NOT_FILES.get(where)
    if where == "fifo":
        os.mkfifo(path)  # opening it would wait for a writer forever
        fragment = "is a FIFO, not a vectors file"
    elif where == "folder":
        path.mkdir()
        fragment = "is a directory, not a vectors file"
    elif where == "link to /proc":
        path.symlink_to("/proc/self/environ")
        fragment = "is in /proc"
    elif where != "socket":
        path = Path(where)
        if not path.exists():
            pytest.skip(f"{where} is not on this machine")
    with contextlib.ExitStack() as stack:
        if where == "socket":
            server = stack.enter_context(socket.socket(socket.AF_UNIX))
            server.bind(str(path))
            fragment = "is a socket, not a vectors file"
        with pytest.raises(UnsafeFileError, match=re.escape(f"{path}: {fragment}")):
            open_vectors(path)
        with pytest.raises(UnsafeFileError, match=re.escape(f"names {path} as its vectors, which {fragment}")):
            embeddings.refuse_unsafe_sources({"path": "/elsewhere/gone.txt", "concat": [str(path)]})
    embeddings.refuse_unsafe_sources({"path": str(tmp_path / "missing.txt")})  # missing: the caller's call


def test_an_npz_is_held_to_the_unpack_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sentinet.data.npz import check_npz

    path = tmp_path / "vectors.npz"
    embeddings.write_bundle(path, ["a", "b"], np.zeros((2, 1 << 18), np.float32))  # 2 MB of zeros
    monkeypatch.setenv("SENTINET_MAX_UNPACK_MB", "1")
    with pytest.raises(UnsafeFileError, match=r"vectors\.npz: its arrays would inflate to 2 MB, over the 1 MB limit"):
        open_vectors(path)
    monkeypatch.setenv("SENTINET_MAX_UNPACK_MB", "3")
    assert open_vectors(path).dim == 1 << 18
    np.savez(path, words=np.array(["a"]), vectors=np.array([[{"x": 1}]], dtype=object))
    with pytest.raises(SentinetError, match="holds Python objects"):
        check_npz(path)
    np.savez(path, words=np.array(["a"]), vectors=np.zeros((1, 0), np.float32))
    with pytest.raises(SentinetError, match=r"dimension 0"):
        open_vectors(path)
    np.savez(path, words=np.array(["a", "b"]), vectors=np.zeros((1, 4), np.float32))
    with pytest.raises(SentinetError, match=r"not a sentinet vectors bundle"):
        open_vectors(path)


# --------------------------------------------------------------------------------------
# Coverage and word2vec training


def test_coverage(tmp_path: Path, kv: KeyedVectors) -> None:
    store = open_vectors(save(kv, tmp_path / "w.txt"))
    counts = {"банк": 5, "ok": 2, "втб": 2, "мтс": 1}  # 7 of 10 tokens, 2 of 4 types
    assert coverage(counts, store) == pytest.approx((0.7, 0.5))
    assert coverage({}, store) == (0.0, 0.0)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTINET_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("SENTINET_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "sentinet"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # the XDG folder, as the SRU build cache
    assert default_cache_dir() == tmp_path / "xdg" / "sentinet"


SENTENCES = [["сбербанк", "работает", "хорошо"], ["втб", "работает", "плохо"]] * 20
W2V = Word2VecConfig(dim=8, window=2, min_count=2, epochs=2)


def test_train_word2vec_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = train_word2vec(SENTENCES, W2V, tmp_path / "cache", seed=1)
    assert path.parent == tmp_path / "cache" and path.name.startswith("word2vec-")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files left
    store = open_vectors(path, expected_dim=8)
    assert store.format == "word2vec" and len(store) == 5 and "сбербанк" in store
    assert np.isfinite(store.lookup(["втб"])).all()

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("retrained a cached model")

    mtime = path.stat().st_mtime_ns
    monkeypatch.setattr(word2vec, "fit_word2vec", no_training)
    assert train_word2vec(SENTENCES, W2V, tmp_path / "cache", seed=1) == path
    assert path.stat().st_mtime_ns == mtime


def test_train_word2vec_key_depends_on_inputs(tmp_path: Path) -> None:
    a = train_word2vec(SENTENCES, W2V, tmp_path, seed=1)
    b = train_word2vec(SENTENCES, W2V, tmp_path, seed=2)
    c = train_word2vec(SENTENCES[:-1], W2V, tmp_path, seed=1)
    wider = Word2VecConfig(dim=8, window=3, min_count=2, epochs=2)
    d = train_word2vec(SENTENCES, wider, tmp_path, seed=1)
    assert len({a, b, c, d}) == 4


def test_train_word2vec_no_word_reaches_min_count(tmp_path: Path) -> None:
    cfg = Word2VecConfig(dim=8, min_count=100)
    with pytest.raises(SentinetError, match="min_count=100"):
        train_word2vec(SENTENCES, cfg, tmp_path, seed=1)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(self: KeyedVectors, fname: str, **kwargs: object) -> None:
        Path(fname).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(KeyedVectors, "save_word2vec_format", broken_save)
    message = r"word2vec-[0-9a-f]{16}\.bin: cannot write .*disk full"
    with pytest.raises(SentinetError, match=message):
        train_word2vec(SENTENCES, W2V, tmp_path, seed=1)
    assert list(tmp_path.iterdir()) == []
