"""``vectors.word2vec.epochs: auto`` (issue 31, item 6): word2vec trained on a few hundred texts
for gensim's usual 10 passes comes out nearly parallel (mean cosine 0.99 over 300 SentiRuEval
tweets) and a frozen table of it leaves the loss near ln 3; a small corpus gets more passes,
a large one keeps 10, and a number the user set is left alone. A run records the number."""

from __future__ import annotations

import pytest

from sentinet.config.schema import Word2VecConfig, dump_yaml, from_dict, load_config
from sentinet.data import word2vec
from sentinet.data.word2vec import AUTO_EPOCHS, AUTO_MAX_EPOCHS, _cache_key, auto_epochs, epochs_for
from sentinet.errors import SentinetError
from sentinet.training.setup import resolve_epochs


def corpus(tokens: int, per_text: int = 10) -> list[list[str]]:
    return [["слово"] * per_text for _ in range(tokens // per_text)]


def test_auto_gives_a_small_corpus_more_passes_and_a_large_one_the_usual_ten():
    assert auto_epochs(corpus(3_000)) == AUTO_MAX_EPOCHS == 100  # 300 tweets: capped
    assert auto_epochs(corpus(20_000)) == 50  # about 1M tokens in all
    assert auto_epochs(corpus(30_000)) == 34  # rounded up
    assert auto_epochs(corpus(100_000)) == AUTO_EPOCHS == 10
    assert auto_epochs(corpus(1_000_000)) == 10  # never fewer than the usual 10
    assert auto_epochs([]) == 100  # no tokens: no division by zero (the vocabulary check says the rest)


def test_epochs_for_keeps_a_number_the_user_set():
    assert epochs_for(corpus(3_000), Word2VecConfig(epochs=7)) == 7
    assert epochs_for(corpus(3_000), Word2VecConfig()) == 100


def test_auto_is_the_default_and_other_words_are_refused():
    assert Word2VecConfig().epochs == "auto"
    assert load_config(None).vectors.word2vec.epochs == "auto"
    assert load_config(None, ["vectors.word2vec.epochs=25"]).vectors.word2vec.epochs == 25
    assert load_config(None, ["vectors.word2vec.epochs=auto"]).vectors.word2vec.epochs == "auto"
    with pytest.raises(SentinetError, match=r"^vectors.word2vec.epochs: 'many' is neither auto nor a whole number"):
        load_config(None, ["vectors.word2vec.epochs=many"])
    with pytest.raises(SentinetError, match=r"^vectors.word2vec.epochs: 0 must be ≥ 1"):
        load_config(None, ["vectors.word2vec.epochs=0"])


def test_a_saved_config_keeps_its_number():
    """Runs saved before auto existed say 10; a run saved since says what auto chose."""
    config = from_dict({"vectors": {"word2vec": {"epochs": 10}}})
    assert config.vectors.word2vec.epochs == 10
    config.vectors.word2vec.epochs = 100
    assert "epochs: 100" in dump_yaml(config)


def test_resolve_epochs_records_the_choice_and_says_why_in_one_line():
    config = load_config(None)
    why = resolve_epochs(config.vectors, corpus(3_000))
    assert config.vectors.word2vec.epochs == 100  # written into the run's config.yaml
    assert why is not None and "\n" not in why
    assert "300 texts (3,000 tokens) are few for word2vec: 100 epochs, not the usual 10" in why
    assert "vectors.word2vec.epochs: auto → 100" in why


def test_resolve_epochs_is_silent_for_a_large_corpus_and_for_a_number():
    config = load_config(None)
    assert resolve_epochs(config.vectors, corpus(200_000)) is None
    assert config.vectors.word2vec.epochs == 10
    mine = load_config(None, ["vectors.word2vec.epochs=3"])
    assert resolve_epochs(mine.vectors, corpus(3_000)) is None
    assert mine.vectors.word2vec.epochs == 3


def test_auto_that_gives_ten_finds_the_caches_made_before_it(monkeypatch):
    monkeypatch.setattr(word2vec, "AUTO_TOKEN_PASSES", 1)  # any corpus is "large"
    sentences = corpus(100)
    assert _cache_key(sentences, Word2VecConfig(), 1) == _cache_key(sentences, Word2VecConfig(epochs=10), 1)
    monkeypatch.setattr(word2vec, "AUTO_TOKEN_PASSES", 1_000_000)
    assert _cache_key(sentences, Word2VecConfig(), 1) == _cache_key(sentences, Word2VecConfig(epochs=100), 1)
