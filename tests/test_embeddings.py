"""Every vectors format round-trips through tiny gensim-made fixtures; bad files fail cleanly."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import numpy as np
import pytest
from gensim.models import FastText, KeyedVectors
from gensim.models.fasttext import save_facebook_model

from sentinet import embeddings
from sentinet.config import Word2VecConfig
from sentinet.embeddings import (
    coverage,
    default_cache_dir,
    detect_vectors_format,
    open_vectors,
    train_word2vec,
)
from sentinet.errors import SentinetError, UnsafeFileError

from .helpers import write_navec

WORDS = ["банк", "сбербанк", "хорошо", "плохо", "bank", "ok"]
VECTORS = np.arange(len(WORDS) * 4, dtype=np.float32).reshape(len(WORDS), 4) / 8 - 1
REAL_NAVEC = (
    Path(__file__).resolve().parents[2] / "shared/embeddings/navec_news_v1_1B_250K_300d_100q.tar"
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
    assert default_cache_dir() == Path.home() / ".cache" / "sentinet"


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
    monkeypatch.setattr(embeddings, "fit_word2vec", no_training)
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
