"""sentinet.data.vocab: the Vocab's ids, its file and the checks on one from elsewhere, and
the plan that splits words into learned and pretrained rows (tests/data/test_batching.py
covers the basic plan: min count, dev words, unk)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from sentinet.data.vocab import (
    PAD, PAD_ID, UNK, UNK_ID, Vocab, VocabPlan, plan_vocab, vocab_from_plan, vocab_problem,
)
from sentinet.errors import SentinetError


def small() -> Vocab:
    return Vocab([PAD, UNK, "zzz", "банк", "хорошо"], n_learned=3, vectors={"path": "v.txt", "dim": 8})


def test_ids_lookups_and_encoding():
    vocab = small()
    assert (PAD_ID, UNK_ID) == (0, 1) and vocab.words[PAD_ID] == PAD and vocab.words[UNK_ID] == UNK
    assert len(vocab) == 5 and "банк" in vocab and "нет" not in vocab
    assert vocab.encode(["банк", "нет", "zzz", "банк"]) == [3, UNK_ID, 2, 3]
    assert vocab.encode([]) == [UNK_ID]  # an empty text is one <unk>, never an empty sequence


def test_extend_appends_only_new_words_and_keeps_ids():
    vocab = small()
    vocab.extend(["отлично", "банк", "отлично", "плохо"])
    assert vocab.words[5:] == ["отлично", "плохо"]
    assert vocab.encode(["плохо", "банк"]) == [6, 3] and vocab.n_learned == 3


def test_save_and_load_round_trip_keeps_unicode_readable(tmp_path):
    path = tmp_path / "vocab.json"
    small().save(path)
    assert "банк" in path.read_text(encoding="utf-8")  # not \\u escapes
    loaded = Vocab.load(path)
    assert (loaded.words, loaded.n_learned, loaded.vectors) == (small().words, 3, {"path": "v.txt", "dim": 8})
    assert loaded.index == small().index
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["vectors"]  # a vocabulary without a vectors record loads with an empty one
    path.write_text(json.dumps(data), encoding="utf-8")
    assert Vocab.load(path).vectors == {}


WORDS = [PAD, UNK, "a"]


@pytest.mark.parametrize("data, problem", [
    ([], "expected a JSON object"),
    ({"words": "ab", "n_learned": 2}, "'words' must be a list of strings"),
    ({"words": [PAD, UNK, 1], "n_learned": 2}, "'words' must be a list of strings"),
    ({"words": [UNK, PAD], "n_learned": 2}, "'words' must start with '<pad>', '<unk>'"),
    ({"words": [], "n_learned": 2}, "'words' must start with '<pad>', '<unk>'"),
    ({"words": [PAD, UNK, "a", "a"], "n_learned": 2}, "'words' lists a word twice"),
    ({"words": WORDS, "n_learned": 4},
     "'n_learned' must be a whole number from 2 to 3 (the word count), got 4"),
    ({"words": WORDS, "n_learned": 1}, "'n_learned' must be a whole number from 2 to 3 (the word count), got 1"),
    ({"words": WORDS, "n_learned": True}, "'n_learned' must be a whole number from 2 to 3 (the word count), got True"),
    ({"words": WORDS, "n_learned": 2.0}, "'n_learned' must be a whole number from 2 to 3 (the word count), got 2.0"),
    ({"words": WORDS}, "'n_learned' must be a whole number from 2 to 3 (the word count), got None"),
    ({"words": WORDS, "n_learned": 2, "vectors": []}, "'vectors' must be an object"),
    ({"words": WORDS, "n_learned": 2, "vectors": {"path": 3}}, "'vectors.path' has the wrong type: 3"),
    ({"words": WORDS, "n_learned": 2, "vectors": {"format": None}}, "'vectors.format' has the wrong type: None"),
    ({"words": WORDS, "n_learned": 2, "vectors": {"concat": ["a", 1]}},
     "'vectors.concat' has the wrong type: ['a', 1]"),
    ({"words": WORDS, "n_learned": 2, "vectors": {"dim": 0}}, "'vectors.dim' has the wrong type: 0"),
    ({"words": WORDS, "n_learned": 2, "vectors": {"dim": True}}, "'vectors.dim' has the wrong type: True"),
])
def test_vocab_problem_names_the_field_at_fault(data, problem):
    assert vocab_problem(data) == problem


def test_vocab_problem_accepts_every_field_well_typed():
    assert vocab_problem({"words": WORDS, "n_learned": 3}) is None
    assert vocab_problem({"words": WORDS, "n_learned": 2, "vectors": {
        "path": None, "format": "word2vec", "concat": ["a.txt", "b.bin"], "dim": 300, "other": [1]}}) is None


def test_load_refusals_name_the_file(tmp_path):
    path = tmp_path / "vocab.json"
    with pytest.raises(SentinetError, match=rf"^{path}: not a readable sentinet vocabulary \(.*No such file"):
        Vocab.load(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(SentinetError, match=rf"^{path}: not a readable sentinet vocabulary \(Expecting"):
        Vocab.load(path)
    path.write_text(json.dumps({"words": [PAD, UNK], "n_learned": 5}), encoding="utf-8")
    with pytest.raises(SentinetError, match=rf"^{path}: not a sentinet vocabulary: 'n_learned' must be"):
        Vocab.load(path)


def test_plan_orders_rows_by_count_and_gives_every_vector_word_its_row():
    train = [["b", "a", "b"], ["c", "b", "a"], ["oov", "d"]]
    vectors = {"a", "b", "c", "d", "dev1", "dev2"}.__contains__
    plan = plan_vocab(train, [["dev2", "a", "dev1", "dev2", "nope"]], vectors, "learn", oov_min_count=5)
    assert plan.pretrained == ["b", "a", "c", "d", "dev2", "dev1"]  # count 1 is enough with a vector
    assert plan.learned == []  # oov seen once, under a min count of 5
    assert plan.counts == Counter({"b": 3, "a": 2, "c": 1, "oov": 1, "d": 1})  # training words only
    assert plan_vocab(train, [], vectors, "zero", 1).learned == []
    assert plan_vocab(train, [], vectors, "learn", 1).learned == ["oov"]


def test_vocab_from_plan_puts_specials_first_and_never_twice():
    """A text holding the literal token <unk> or <pad> must not get a second row for it."""
    plan = VocabPlan(learned=["x", UNK], pretrained=["p", PAD, "q"], counts=Counter())
    vocab = vocab_from_plan(plan, {"dim": 4})
    assert vocab.words == [PAD, UNK, "x", "p", "q"]
    assert vocab.n_learned == 3 and vocab.vectors == {"dim": 4}
    assert vocab_problem({"words": vocab.words, "n_learned": vocab.n_learned, "vectors": vocab.vectors}) is None
