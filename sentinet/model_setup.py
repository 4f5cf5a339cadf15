"""Model building for training: the vectors (a file, or word2vec trained on the training
texts), the vocabulary they and the data make, and the classifier over them; or, to resume,
the model a run's checkpoint holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sentinet import artifacts, checkpoint, rundir
from sentinet.config import Config, VectorsConfig
from sentinet.data.vocab import Vocab, plan_vocab, vocab_from_plan
from sentinet.embeddings import VectorStore, coverage, default_cache_dir, open_sources, train_word2vec
from sentinet.models.classifier import Embedder, SentimentClassifier
from sentinet.runlog import RunLog


def open_store(cfg: VectorsConfig, train_tokens: list[list[str]], seed: int,
               log: RunLog) -> tuple[VectorStore, dict]:
    """The configured vectors (or word2vec trained on the training texts, cached), and the
    sources record a run keeps so predict time can reopen them."""
    if cfg.path:
        log(f"vectors: loading {cfg.path}")
        sources = {"path": cfg.path, "format": cfg.format}
    else:
        cache = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
        log(f"vectors: none given; training word2vec on {len(train_tokens)} training texts (cache {cache})")
        sources = {"path": str(train_word2vec(train_tokens, cfg.word2vec, cache, seed)), "format": "word2vec"}
    for extra in cfg.concat:
        log(f"vectors: concatenating {extra}")
    sources["concat"] = list(cfg.concat)
    return open_sources(sources, expected_dim=cfg.dim), sources


def new_model(config: Config, train_tokens: list[list[str]], dev_tokens: list[list[str]],
              log: RunLog, num_classes: int) -> tuple[Vocab, SentimentClassifier]:
    """Vocabulary from the training (and dev) words, and a model over their vectors."""
    store, sources = open_store(config.vectors, train_tokens, config.train.seed, log)
    plan = plan_vocab(train_tokens, dev_tokens, store.__contains__,
                      config.vectors.oov, config.vectors.oov_min_count)
    vocab = vocab_from_plan(plan, {**sources, "dim": store.dim})
    token_cov, type_cov = coverage(plan.counts, store)
    log(f"vectors: dim {store.dim}; training coverage {token_cov:.1%} of tokens, "
        f"{type_cov:.1%} of {len(plan.counts)} types; vocabulary {len(vocab)} "
        f"({len(vocab) - vocab.n_learned} pretrained rows, {vocab.n_learned} trainable rows, "
        f"oov policy '{config.vectors.oov}')")
    return vocab, build_model(config, store, vocab, num_classes)  # only the rows the model needs are kept


def build_model(config: Config, store: VectorStore, vocab: Vocab, num_classes: int) -> SentimentClassifier:
    """Only the vocabulary's rows are looked up: a 250K-word file costs 15K rows in memory."""
    rows = store.lookup(vocab.words[vocab.n_learned:])
    embedder = Embedder(torch.from_numpy(np.asarray(rows, dtype=np.float32)), vocab.n_learned,
                        config.vectors.freeze, learn_oov=config.vectors.oov != "zero",
                        multichannel=config.model.multichannel)
    return SentimentClassifier(embedder, config.model, num_classes)


def restored_model(config: Config, run_dir: Path) -> tuple[dict, Vocab, SentimentClassifier]:
    """The checkpoint, vocabulary and live model of a run to resume; the frozen table, kept
    out of last.pt, comes back from model.pt."""
    saved = checkpoint.load(run_dir)
    vocab = Vocab.load(run_dir / rundir.VOCAB)
    table = artifacts.load_weights(run_dir / rundir.WEIGHTS)[checkpoint.FROZEN]
    for key in ("model", "averaged", "best_model"):
        if saved.get(key) is not None:
            saved[key] = checkpoint.with_frozen(saved[key], table)
    model = artifacts.model_from_state(config, vocab, saved["model"], run_dir / rundir.LAST,
                                       freeze=config.vectors.freeze)
    return saved, vocab, model
