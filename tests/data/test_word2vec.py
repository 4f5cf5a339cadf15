"""In-domain fastText (``sentinet embeddings train --model fasttext`` and
``vectors.word2vec.model: fasttext``): words never seen in training — misspelt, elongated —
still get vectors from their character n-grams, at train time and at predict time."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from sentinet.cli.main import main
from sentinet.config.schema import TokenizerConfig, Word2VecConfig, from_dict
from sentinet.data.tokenize import Tokenizer
from sentinet.data.embeddings import open_vectors
from sentinet.data.word2vec import _cache_key, fit_fasttext
from sentinet.inference.opener import open_predictor
from sentinet.inference.predictor import RunPredictor
from sentinet.training.loop import train

from tests.helpers import (
    NEGATIVE, POSITIVE, assert_one_line_error, make_corpus, run_cli, sentirueval_xml,
    tiny_config_yaml, tiny_raw, write_tiny_data,
)

# Small enough to train in a second and stay ~1 MB (the .bin holds bucket x dim floats).
FT = ["--model", "fasttext", "--workers", "1", "--set", "vectors.word2vec.dim=16",
      "--set", "vectors.word2vec.bucket=20000", "--set", "vectors.word2vec.min_count=1"]


def misspelt(word: str) -> str:
    """A letter typed twice: спасибо → спассибо."""
    return word[:4] + word[3:]


@pytest.fixture(scope="module")
def ft(tmp_path_factory) -> dict[str, Path]:
    """Tiny data, fastText trained on its training texts (ft.bin), and a training file whose
    sentiment words are all misspelt: none of them is a word of ft.bin."""
    data = write_tiny_data(tmp_path_factory.mktemp("fasttext"))
    data["ft"] = data["dir"] / "ft.bin"
    res = run_cli("embeddings", "train", str(data["train"]), "--out", str(data["ft"]), *FT)
    assert res.returncode == 0, res.stderr
    assert "fasttext: 150 texts" in res.stderr and "n-grams 3-6 in 20000 buckets" in res.stderr
    rows = [(" ".join(misspelt(w) if w in POSITIVE + NEGATIVE else w for w in text.split()), labels)
            for text, labels in make_corpus(150, seed=1)]
    data["variants"] = data["dir"] / "variants.xml"
    data["variants"].write_text(sentirueval_xml(rows), encoding="utf-8")
    return data


def in_process(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``sentinet ARGS`` through main(), as the command runs it, without a new interpreter
    (seconds each); exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["sentinet", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    return exit_info.value.code or 0, out, err


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def pretrained_row(predictor: RunPredictor, word: str) -> np.ndarray:
    """The frozen vector a loaded run gives ``word`` (KeyError: it has none, i.e. <unk>)."""
    run = predictor.run
    row = run.vocab.index[word] - run.vocab.n_learned
    assert row >= 0, f"{word} has a trainable row, not a pretrained one"
    return run.model.embedder.pretrained.weight[row].detach().numpy()


def test_unseen_variants_get_vectors_from_their_ngrams(ft):
    store = open_vectors(ft["ft"])
    assert (store.format, store.dim) == ("fasttext", 16)
    assert ft["ft"].stat().st_size < 2_000_000  # 20000 buckets x 16 floats, plus the words
    assert "спасибо" in store.kv.key_to_index and "ужасно" in store.kv.key_to_index
    corpus_words = [*POSITIVE, *NEGATIVE]
    tokenizer = Tokenizer(TokenizerConfig())
    for original in ("спасибо", "ужасно", "отлично"):
        (variant,) = tokenizer(original + original[-1] * 5)  # спасибоооооо → спасибоо
        assert variant != original and variant not in store.kv.key_to_index and variant in store
        vector, *others = store.lookup([variant, *corpus_words])
        assert np.abs(vector).sum() > 0
        similarity = {w: cosine(vector, v) for w, v in zip(corpus_words, others)}
        assert similarity[original] > 0.5, similarity
        assert max(similarity, key=similarity.get) == original, similarity
    assert "" not in store  # no character n-gram at all: no vector


def test_same_seed_same_bytes(ft, tmp_path):
    again = tmp_path / "again.bin"
    res = run_cli("embeddings", "train", str(ft["train"]), "--out", str(again), *FT)
    assert res.returncode == 0, res.stderr
    assert again.read_bytes() == ft["ft"].read_bytes()


def test_an_unknown_model_is_a_one_line_error(ft, tmp_path):
    res = run_cli("embeddings", "train", str(ft["train"]), "--out", "v.bin", "--model", "bogus", cwd=tmp_path)
    assert_one_line_error(res, "--model", "'bogus'", "word2vec, fasttext")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, fragments", [
    (["--model", "fasttext", "--out", "x.vec"], ["x.vec", "fastText .bin"]),
    (["--model", "fasttext", "--set", "vectors.word2vec.max_n=2"], ["max_n: 2", "min_n (3)"]),
    (["--set", "vectors.word2vec.model=glove"], ["vectors.word2vec.model", "'glove'"]),
])
def test_bad_fasttext_settings_are_one_line_errors(ft, tmp_path, monkeypatch, capsys, args, fragments):
    """In-process (a subprocess each would cost seconds): main() as `sentinet` runs it."""
    if "--out" not in args:
        args = [*args, "--out", "v.bin"]
    monkeypatch.chdir(tmp_path)
    code, _, err = in_process(monkeypatch, capsys, "embeddings", "train", str(ft["train"]), *args)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert all(f in errors[0] for f in fragments), errors[0]
    assert not list(tmp_path.iterdir())


def test_word2vec_stays_the_default_and_its_cache_key_is_unchanged():
    assert Word2VecConfig().model == "word2vec"
    sentences = [["сбербанк", "спасибо", "отлично"], ["втб", "ужасно", "плохо"], ["кошмар"]] * 20
    # The key caches made before fastText existed were filed under: they stay valid (epochs
    # 10, the old default; auto gives this tiny corpus 100: tests/data/test_word2vec_epochs.py).
    assert _cache_key(sentences, Word2VecConfig(dim=8, min_count=1, epochs=10), 5)[:16] == "a05e4f5ce5997c1d"
    keys = {_cache_key(sentences, Word2VecConfig(dim=8, min_count=1, model="fasttext", **change), 5)
            for change in ({}, {"min_n": 2}, {"max_n": 5}, {"bucket": 1000})}
    assert len(keys) == 4  # every fastText setting trains a fresh model


def test_a_different_seed_gives_other_vectors(ft):
    cfg = Word2VecConfig(dim=16, min_count=1, model="fasttext", bucket=20000)
    sentences = [["сбербанк", "спасибо", "отлично"], ["втб", "ужасно", "плохо"]] * 10
    one, same, other = (fit_fasttext(sentences, cfg, seed).wv for seed in (1, 1, 2))
    assert np.array_equal(one["спасибооо"], same["спасибооо"])
    assert not np.array_equal(one["спасибооо"], other["спасибооо"])


def _train(ft: dict, name: str, subprocess: bool, **vectors) -> tuple[Path, str]:
    """``sentinet train`` (one epoch) on the misspelt corpus, in a subprocess or (seconds
    faster) in-process; the run and its train.log."""
    raw = yaml.safe_load(tiny_config_yaml({**ft, "train": ft["variants"]}, epochs=1))
    raw["vectors"].update(vectors)
    raw["run"]["output_dir"] = str(ft["dir"] / name)
    if subprocess:
        config = ft["dir"] / f"{name}.yaml"
        config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        res = run_cli("train", "--config", str(config))
        assert res.returncode == 0, res.stderr
    else:
        train(from_dict(raw))
    (run,) = (ft["dir"] / name).iterdir()
    return run, (run / "train.log").read_text(encoding="utf-8")


def _coverage(log: str) -> tuple[str, int]:
    """(word type coverage, trainable rows) from the training log's vectors line."""
    match = re.search(r"training coverage [\d.]+% of words, ([\d.]+)% of \d+ word types .*?, (\d+) trainable rows", log)
    assert match, log
    return match.group(1), int(match.group(2))


def test_training_and_predict_over_the_fasttext_file(ft, monkeypatch, capsys):
    run, log = _train(ft, "plain", subprocess=True, path=str(ft["ft"]))
    assert _coverage(log) == ("100.0", 2)  # misspelt words included; only <pad> and <unk> train
    texts = ["сбербанк спасибоооо отличнооооо", "втб ужасноооо"]  # words unseen even by the run
    lines = ft["dir"] / "misspelt.txt"
    lines.write_text("\n".join(texts) + "\n", encoding="utf-8")
    code, out, err = in_process(monkeypatch, capsys, "predict", str(run), str(lines))
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1 + len(texts)
    predictor = open_predictor(str(run), "cpu")
    predictor.predict_proba(texts, progress=False)
    store = open_vectors(ft["ft"])
    for word in ("спасибоо", "отличноо", "ужасноо"):  # what the tokenizer makes of them
        row = pretrained_row(predictor, word)  # appended from the n-grams, not <unk>
        np.testing.assert_allclose(row, store.lookup([word])[0], rtol=1e-6)
        assert np.abs(row).sum() > 0


def test_fasttext_in_concat_fills_its_part_for_unseen_words(ft):
    """navec-style main vectors (vectors.txt: no misspelt words) + fastText in concat: the
    main part is zeros for an unseen word, the fastText part its n-gram vector."""
    run, log = _train(ft, "concat", subprocess=False, path=str(ft["vectors"]), concat=[str(ft["ft"])])
    assert _coverage(log) == ("100.0", 2)
    vocab = json.loads((run / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["vectors"]["dim"] == 32 and vocab["vectors"]["concat"] == [str(ft["ft"])]
    predictor = open_predictor(str(run), "cpu")
    predictor.predict_proba(["сбербанк спасибоооо"], progress=False)
    row = pretrained_row(predictor, "спасибоо")
    assert not row[:16].any()
    np.testing.assert_allclose(row[16:], open_vectors(ft["ft"]).lookup(["спасибоо"])[0], rtol=1e-6)
    assert np.abs(row[16:]).sum() > 0


def test_no_vectors_file_trains_cached_fasttext(ft, tmp_path):
    cache = tmp_path / "cache"
    w2v = {"model": "fasttext", "dim": 8, "min_count": 1, "bucket": 5000}
    raw = tiny_raw(ft, vectors__path=None, vectors__cache_dir=str(cache), vectors__word2vec=w2v)
    raw["train"]["epochs"] = 1
    raw["run"]["output_dir"] = str(tmp_path / "runs")
    result = train(from_dict(raw))
    (cached,) = cache.iterdir()
    assert cached.name.startswith("fasttext-") and cached.suffix == ".bin"
    assert open_vectors(cached).format == "fasttext"
    predictor = open_predictor(str(result.run_dir), "cpu")
    predictor.predict_proba(["сбербанк спасибоооо"], progress=False)
    assert np.abs(pretrained_row(predictor, "спасибоо")).sum() > 0
