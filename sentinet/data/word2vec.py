"""Word vectors trained on your own texts: gensim word2vec, or fastText, whose character
n-grams give vectors to words it never saw. ``write_vectors`` is the one switch between the
two; training calls it through ``train_word2vec`` (cached, when a config names no vectors
file) and ``sentinet embeddings train`` directly (a file of the user's choosing).

gensim takes seconds to import, so only the functions that train import it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from sentinet.config.schema import Config, Word2VecConfig
from sentinet.downloads.places import user_cache_dir
from sentinet.errors import SentinetError

if TYPE_CHECKING:
    from gensim.models import FastText, KeyedVectors

TEXT_FORMATS = (".txt", ".vec")  # a word2vec file with these suffixes is text; any other binary

# vectors.word2vec.epochs: auto. The usual 10 passes suit a corpus of 100K tokens or more; over
# a few thousand (300 tweets) the vectors barely leave their common start and come out nearly
# parallel (mean cosine 0.99), so a frozen table tells the classifier almost nothing. A small
# corpus gets passes enough for about AUTO_TOKEN_PASSES tokens in all (a few seconds of
# training), at most AUTO_MAX_EPOCHS.
AUTO_EPOCHS = 10
AUTO_MAX_EPOCHS = 100
AUTO_TOKEN_PASSES = 1_000_000


def default_cache_dir() -> Path:
    """Where trained vectors are cached: $SENTINET_CACHE, else the user cache folder (XDG)."""
    return user_cache_dir()


def auto_epochs(sentences: list[list[str]]) -> int:
    """The passes ``epochs: auto`` makes over ``sentences``: 10, more for a small corpus."""
    tokens = sum(map(len, sentences))
    return min(AUTO_MAX_EPOCHS, max(AUTO_EPOCHS, -(-AUTO_TOKEN_PASSES // max(tokens, 1))))


def epochs_for(sentences: list[list[str]], cfg: Word2VecConfig) -> int:
    """``cfg.epochs``, with auto resolved for ``sentences``."""
    return auto_epochs(sentences) if cfg.epochs == "auto" else int(cfg.epochs)


def train_word2vec(
    sentences: list[list[str]], cfg: Word2VecConfig, cache_dir: Path, seed: int, workers: int = 1
) -> Path:
    """Train word2vec (cfg.model: fasttext — fastText, as a native .bin) on ``sentences``
    unless the same corpus and settings are cached."""
    target = Path(cache_dir) / f"{cfg.model}-{_cache_key(sentences, cfg, seed)[:16]}.bin"
    if not target.is_file():
        write_vectors(sentences, cfg, target, seed, workers)
    return target


def write_vectors(sentences: list[list[str]], cfg: Word2VecConfig, target: Path, seed: int,
                  workers: int = 1) -> KeyedVectors:
    """Train what ``cfg.model`` names on ``sentences`` and write it to ``target`` atomically:
    fastText as Facebook's native .bin (n-grams and all), word2vec in word2vec format (text for
    .txt/.vec, binary otherwise). Returns the word vectors (fastText's with its n-grams).
    workers=1 makes a seed reproduce the file exactly."""
    if cfg.model == "fasttext":
        model = fit_fasttext(sentences, cfg, seed, workers)
        save_fasttext(model, target)
        return model.wv
    kv = fit_word2vec(sentences, cfg, seed, workers)
    save_vectors(kv, target, binary=target.suffix.lower() not in TEXT_FORMATS)
    return kv


def check_target(cfg: Word2VecConfig, target: Path) -> None:
    """What ``write_vectors`` would refuse once trained, said before the corpus is read: fastText
    settings that do not fit together, and a fastText file named as text."""
    if cfg.model != "fasttext":
        return
    if target.suffix.lower() != ".bin":
        raise SentinetError(f"{target}: fastText vectors are written as a native fastText .bin "
                            "(text formats drop the n-grams); give --out a name ending in .bin")
    check_fasttext(cfg)


def read_sentences(paths: Iterable[Path], config: Config) -> list[list[str]]:
    """The texts of ``paths`` (any format ``data`` reads; the config's text column and quoting)
    as the config's tokenizer splits them: what word vectors are trained on."""
    from tqdm import tqdm

    from sentinet.data.readers import read_records
    from sentinet.data.tokenize import Tokenizer

    tokenizer = Tokenizer(config.tokenizer)
    d = config.data
    texts = [r.text for path in paths for r in read_records(path, text_column=d.text_column, quoting=d.quoting)]
    return [tokenizer(t) for t in tqdm(texts, desc="tokenize", leave=False, disable=None)]


def fit_word2vec(sentences: list[list[str]], cfg: Word2VecConfig, seed: int, workers: int = 1) -> KeyedVectors:
    """gensim word2vec on tokenised sentences; an empty vocabulary is a user error."""
    from gensim.models import Word2Vec

    model = Word2Vec(
        vector_size=cfg.dim, window=cfg.window, min_count=cfg.min_count,
        epochs=epochs_for(sentences, cfg), sg=int(cfg.sg), seed=seed, workers=workers,
    )  # fmt: skip
    return _fit(model, sentences, "word2vec").wv


def _fit(model, sentences: list[list[str]], name: str):
    """Vocabulary, then training, for a gensim word2vec or fastText model; an empty
    vocabulary is a user error."""
    model.build_vocab(sentences)
    if len(model.wv) == 0:
        raise SentinetError(f"{name}: no word occurs vectors.word2vec.min_count={model.min_count} "
                            "times in the training texts")
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    return model


def check_fasttext(cfg: Word2VecConfig) -> None:
    """The fastText settings one field's range cannot check."""
    if cfg.max_n < cfg.min_n:
        raise SentinetError(f"vectors.word2vec.max_n: {cfg.max_n} is below "
                            f"vectors.word2vec.min_n ({cfg.min_n}); fastText needs min_n ≤ max_n")


def fit_fasttext(sentences: list[list[str]], cfg: Word2VecConfig, seed: int, workers: int = 1) -> FastText:
    """gensim fastText on tokenised sentences: the whole model, which save_fasttext needs
    (``.wv`` is its vectors, n-grams included). workers=1 makes a seed reproduce it exactly."""
    from gensim.models import FastText

    check_fasttext(cfg)
    model = FastText(
        vector_size=cfg.dim, window=cfg.window, min_count=cfg.min_count,
        epochs=epochs_for(sentences, cfg), sg=int(cfg.sg), seed=seed, workers=workers,
        min_n=cfg.min_n, max_n=cfg.max_n, bucket=cfg.bucket,
    )  # fmt: skip
    return _fit(model, sentences, "fasttext")


def _cache_key(sentences: list[list[str]], cfg: Word2VecConfig, seed: int) -> str:
    """sha256 over the settings and every token, so any change trains a fresh model (the
    word2vec key has no fastText settings: caches made before they existed stay valid; epochs:
    auto is keyed by the number it resolves to, so an auto that gives 10 finds the old caches)."""
    h = hashlib.sha256()
    params = {"dim": cfg.dim, "window": cfg.window, "min_count": cfg.min_count,
              "epochs": epochs_for(sentences, cfg), "sg": bool(cfg.sg), "seed": seed}  # fmt: skip
    if cfg.model != "word2vec":
        params.update(model=cfg.model, min_n=cfg.min_n, max_n=cfg.max_n, bucket=cfg.bucket)
    h.update(json.dumps(params, sort_keys=True).encode())
    for sentence in sentences:
        h.update(json.dumps(sentence, ensure_ascii=False).encode("utf-8") + b"\n")
    return h.hexdigest()


def save_vectors(kv: KeyedVectors, target: Path, binary: bool = True) -> None:
    """Write word2vec format atomically, so a crash leaves no half file."""
    from sentinet.fileio import atomic_path

    try:
        with atomic_path(target, named=True) as tmp:
            kv.save_word2vec_format(str(tmp), binary=binary)
    except OSError as exc:
        raise SentinetError(f"{target}: cannot write vectors ({exc})") from None


def save_fasttext(model: FastText, target: Path) -> None:
    """Write Facebook's native fastText .bin (words, n-gram buckets, output layer)
    atomically; sentinet reads it back as vectors.format: fasttext."""
    from gensim.models.fasttext import save_facebook_model

    from sentinet.fileio import atomic_path

    try:
        with atomic_path(target, named=True) as tmp:
            save_facebook_model(model, str(tmp))
    except OSError as exc:
        raise SentinetError(f"{target}: cannot write vectors ({exc})") from None
