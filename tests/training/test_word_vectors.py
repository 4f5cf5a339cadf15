"""sentinet.data.word2vec.write_vectors: the one switch between word2vec and fastText, which
training's cached vectors and ``sentinet embeddings train`` both go through."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinet.config.schema import Word2VecConfig
from sentinet.data import word2vec
from sentinet.data.embeddings import open_vectors
from sentinet.data.vectors_files import FASTTEXT_MAGIC
from sentinet.errors import SentinetError

SENTENCES = [["сбербанк", "работает", "хорошо"], ["втб", "работает", "плохо"]] * 10
WORD2VEC = Word2VecConfig(dim=4, window=2, min_count=1, epochs=1)
FASTTEXT = Word2VecConfig(dim=4, window=2, min_count=1, epochs=1, model="fasttext", min_n=2, max_n=3, bucket=64)


@pytest.mark.parametrize(("cfg", "name", "format"), [
    (WORD2VEC, "w.bin", "word2vec"),
    (WORD2VEC, "w.vec", "word2vec-text"),
    (WORD2VEC, "w.txt", "word2vec-text"),
    (FASTTEXT, "f.bin", "fasttext"),
])
def test_the_model_and_the_name_choose_the_file(tmp_path, cfg, name, format):
    target = tmp_path / name
    kv = word2vec.write_vectors(SENTENCES, cfg, target, seed=1)
    assert len(kv) == 5 and kv.vector_size == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # written whole, no temp file left
    assert (target.read_bytes()[:4] == FASTTEXT_MAGIC.to_bytes(4, "little")) == (format == "fasttext")
    store = open_vectors(target, expected_dim=4)
    assert store.format == format and "сбербанк" in store
    assert ("сбербанкам" in store) == (format == "fasttext")  # only n-grams cover unseen words


def test_a_fasttext_file_must_be_a_bin_and_its_ngrams_fit(tmp_path):
    word2vec.check_target(WORD2VEC, tmp_path / "w.txt")
    with pytest.raises(SentinetError, match=r"f\.vec: fastText vectors are written as a native fastText \.bin"):
        word2vec.check_target(FASTTEXT, tmp_path / "f.vec")
    with pytest.raises(SentinetError, match="max_n: 1 is below vectors.word2vec.min_n"):
        word2vec.check_target(Word2VecConfig(model="fasttext", min_n=2, max_n=1), tmp_path / "f.bin")


def test_training_caches_through_the_same_switch(tmp_path, monkeypatch):
    calls: list[tuple[str, Path]] = []
    real = word2vec.write_vectors

    def counted(sentences, cfg, target, seed, workers=1):
        calls.append((cfg.model, target))
        return real(sentences, cfg, target, seed, workers)

    monkeypatch.setattr(word2vec, "write_vectors", counted)
    for cfg in (WORD2VEC, FASTTEXT, WORD2VEC):  # the second word2vec is the cached file
        path = word2vec.train_word2vec(SENTENCES, cfg, tmp_path, seed=1)
        assert path.name.startswith(f"{cfg.model}-") and path.suffix == ".bin"
    assert [(model, target.parent) for model, target in calls] == [("word2vec", tmp_path), ("fasttext", tmp_path)]
