"""What a run is made of before its loop starts, all checked before anything is written: the
data, the vectors (a file, or word2vec trained on the training texts), the vocabulary they and
the data make, and the classifier over them; or, to resume, the model a run's checkpoint holds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentinet.runs import weights
from sentinet.training import checkpoint
from sentinet.runs import rundir
from sentinet.config.paths import resolve_paths
from sentinet.config.schema import Config, VectorsConfig
from sentinet.data.tokenize import Tokenizer
from sentinet.data.training_data import (
    TrainingData, class_counts, load_training_data, log_data, split_warning, unlabeled_texts,
)
from sentinet.data.vocab import Vocab, plan_vocab, vocab_from_plan
from sentinet.errors import SentinetError
from sentinet.data.embeddings import VectorStore, coverage, open_sources, word_coverage
from sentinet.data.word2vec import AUTO_EPOCHS, auto_epochs, default_cache_dir, train_word2vec
from sentinet.evaluation.metrics import resolve_metric
from sentinet.models.builder import build_model
from sentinet.models.classifier import SentimentClassifier
from sentinet.runs.log import RunLog
from sentinet.runtime.device import resolve_device
from sentinet.training.callbacks import require_tensorboard
from sentinet.training.optim import build_loss
from sentinet.training.teacher import SoftTargets, soft_targets


@dataclass
class Prepared:
    """What a run is made of before its loop starts, all checked before anything is written."""

    config: Config  # train()'s own copy: paths resolved, data.labels filled in
    data: TrainingData
    train_ids: list[list[int]]
    dev_ids: list[list[int]]
    vocab: Vocab
    model: SentimentClassifier
    loss_fn: nn.Module
    device: torch.device
    saved: dict | None  # the checkpoint being resumed, if any
    unlabeled_ids: list[list[int]] = field(default_factory=list)  # data.unlabeled (train.aux_lm only)
    soft: SoftTargets | None = None  # train.distill: what the run learns (train_ids then also holds its extra texts)


def prepare(config: Config, resume: Path | None, log: RunLog) -> Prepared:
    """Read and check the data, build (or restore) the model; ``config`` is train()'s copy."""
    config = resolve_paths(config)
    t = config.train
    device = resolve_device(t.device)
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    torch.manual_seed(t.seed)

    data = load_training_data(config)
    resolve_metric(t.metric, data.labels)  # sentirueval needs its labels: say so before training
    tokenizer = Tokenizer(config.tokenizer)
    train_tokens = [tokenizer(r.text) for r, _ in data.train]
    dev_tokens = [tokenizer(r.text) for r in data.dev]
    log_data(data, log, t.metric)
    unlabeled_tokens = unlabeled_texts(config, data, tokenizer, log)
    if warning := split_warning(config, data):
        log(warning)
    config.data.labels = list(data.labels.values)  # saved with the run: predict uses these classes
    loss_fn = build_loss(t, [c for _, c in data.train], data.labels).to(device)  # checks class_weights
    soft = soft_targets(config, data, tokenizer, log)  # train.distill: the ensemble's probabilities
    train_tokens += soft.extra_tokens if soft else []  # its unlabelled texts train (and make vocabulary) too
    cap = config.tokenizer.max_tokens
    if cut := sum(len(tokens) >= cap for tokens in (*train_tokens, *dev_tokens)):
        log(f"data: {cut} tweet(s) reached tokenizer.max_tokens ({cap}); their later tokens are dropped")

    saved = None
    if resume is None or not (resume / rundir.LAST).is_file():
        vocab, model = new_model(config, train_tokens, [*dev_tokens, *unlabeled_tokens], log,
                                 class_counts(data))
    else:
        saved, vocab, model = restored_model(config, resume)
    model = model.to(device)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"model: {config.model.encoder.name}, {n_params:,} trainable parameters, device {device}")
    if config.run.tensorboard:
        require_tensorboard()
    return Prepared(config, data, [vocab.encode(x) for x in train_tokens],
                    [vocab.encode(x) for x in dev_tokens], vocab, model, loss_fn, device, saved,
                    [vocab.encode(x) for x in unlabeled_tokens], soft)


def open_store(cfg: VectorsConfig, train_tokens: list[list[str]], seed: int,
               log: RunLog) -> tuple[VectorStore, dict]:
    """The configured vectors (or word2vec trained on the training texts, cached), and the
    sources record a run keeps so predict time can reopen them."""
    if cfg.path:
        log(f"vectors: loading {cfg.path}")
        sources = {"path": cfg.path, "format": cfg.format}
    else:
        cache = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
        kind = cfg.word2vec.model  # word2vec, or fasttext (its .bin is Facebook's format)
        why = resolve_epochs(cfg, train_tokens)
        log(f"vectors: none given; training {kind} on {len(train_tokens)} training texts "
            f"({sum(map(len, train_tokens)):,} tokens, {cfg.word2vec.epochs} epochs; cache {cache})")
        if why:
            log(why)
        sources = {"path": str(train_word2vec(train_tokens, cfg.word2vec, cache, seed)), "format": kind}
    for extra in cfg.concat:
        log(f"vectors: concatenating {extra}")
    sources["concat"] = list(cfg.concat)
    return open_sources(sources, expected_dim=cfg.dim), sources


def resolve_epochs(cfg: VectorsConfig, train_tokens: list[list[str]]) -> str | None:
    """``vectors.word2vec.epochs: auto`` made a number in ``cfg`` (the run's config.yaml records
    it, so a resume or a rerun of that config trains the same vectors); the log line that says
    why when a small corpus got more than the usual passes, else None."""
    w2v = cfg.word2vec
    if w2v.epochs != "auto":
        return None
    w2v.epochs = auto_epochs(train_tokens)
    if w2v.epochs <= AUTO_EPOCHS:
        return None
    tokens = sum(map(len, train_tokens))
    return (f"vectors: {len(train_tokens):,} texts ({tokens:,} tokens) are few for {w2v.model}: {w2v.epochs} "
            f"epochs, not the usual {AUTO_EPOCHS}, else its vectors come out nearly alike and tell the model "
            f"little (vectors.word2vec.epochs: auto → {w2v.epochs}; set a number to choose, or give vectors.path)")


def new_model(config: Config, train_tokens: list[list[str]], extra_tokens: list[list[str]],
              log: RunLog, class_counts: list[int]) -> tuple[Vocab, SentimentClassifier]:
    """Vocabulary from the training words (and, for pretrained rows, the dev and unlabelled
    ones), and a model over their vectors: fresh, or starting from model.init_from's run."""
    store, sources = open_store(config.vectors, train_tokens, config.train.seed, log)
    plan = plan_vocab(train_tokens, extra_tokens, store.__contains__,
                      config.vectors.oov, config.vectors.oov_min_count)
    vocab = vocab_from_plan(plan, {**sources, "dim": store.dim})
    token_cov, _ = coverage(plan.counts, store)
    word_cov, word_type_cov, word_types = word_coverage(plan.counts, store)
    log(f"vectors: dim {store.dim}; training coverage {word_cov:.1%} of words, {word_type_cov:.1%} of "
        f"{word_types} word types ({token_cov:.1%} of all tokens, counting punctuation, emoticons, "
        f"emoji and placeholders); vocabulary {len(vocab)} "
        f"({len(vocab) - vocab.n_learned} pretrained rows, {vocab.n_learned} trainable rows, "
        f"oov policy '{config.vectors.oov}')")
    # Only the vocabulary's rows are looked up: a 250K-word file costs 15K rows in memory.
    rows = torch.from_numpy(np.asarray(store.lookup(vocab.words[vocab.n_learned:]), dtype=np.float32))
    model = build_model(config, vocab, rows, class_counts=class_counts)
    if config.model.init_from:
        log(transfer(model, vocab, config, Path(config.model.init_from)))
    return vocab, model


def transfer(model: SentimentClassifier, vocab: Vocab, config: Config, source_dir: Path) -> str:
    """model.init_from: copy another run's encoder, its vector for every word both
    vocabularies share (the trained rows of <unk> and OOV words included) and, when the label
    sets and heads match, its head. Returns what was copied, for the log."""
    where = f"model.init_from: {source_dir}"
    if (source_dir / rundir.ENSEMBLE).is_file():
        raise SentinetError(f"{where} is an ensemble; name one of its member runs")
    try:
        source = weights.load_run(source_dir, torch.device("cpu"))
    except SentinetError as exc:
        raise SentinetError(f"{where}: {exc}") from None
    theirs, ours = dataclasses.asdict(source.config.model.encoder), dataclasses.asdict(config.model.encoder)
    if theirs != ours:
        differ = ", ".join(f"{k} {theirs.get(k)!r} vs {ours.get(k)!r}" for k in ours if theirs.get(k) != ours[k])
        raise SentinetError(f"{where}: its encoder differs from model.encoder ({differ}); they must match")
    src = source.model
    if src.embedder.output_dim != model.embedder.output_dim:
        raise SentinetError(f"{where}: its word vectors are {src.embedder.output_dim}-dim, this "
                            f"config's {model.embedder.output_dim}-dim; use the same vectors")
    model.encoder.load_state_dict(src.encoder.state_dict())
    shared = _copy_rows(model, vocab, src, source.vocab)
    copied = f"encoder and the vectors of {shared} shared words"
    same_head = (source.config.data.labels == config.data.labels and source.config.model.head == config.model.head)
    if same_head:
        model.head.load_state_dict(src.head.state_dict())
        return f"model: initialised from {source_dir}: {copied}, head (same labels)"
    return f"model: initialised from {source_dir}: {copied}; a new head (its labels or head differ)"


@torch.no_grad()
def _copy_rows(model: SentimentClassifier, vocab: Vocab, src: SentimentClassifier, src_vocab: Vocab) -> int:
    """Each word of ours that the source knows gets the source's vector (static, and the
    multichannel copy when both have one); returns how many words were copied."""
    pairs = [(i, src_vocab.index[w]) for i, w in enumerate(vocab.words) if w in src_vocab.index and i]
    if not pairs:
        return 0
    ours, theirs = (torch.tensor(x) for x in zip(*pairs))
    vectors = src.embedder(theirs.unsqueeze(0)).squeeze(0)  # [N, dim] or [N, 2 dim] (multichannel)
    static = vectors[:, : model.embedder.dim]
    n = model.embedder.n_learned
    learned, pretrained = ours < n, ours >= n
    model.embedder.learned.weight[ours[learned]] = static[learned]
    model.embedder.pretrained.weight[ours[pretrained] - n] = static[pretrained]
    if model.embedder.dynamic is not None and src.embedder.dynamic is not None:
        model.embedder.dynamic.weight[ours] = vectors[:, model.embedder.dim:]
    return len(pairs)


def restored_model(config: Config, run_dir: Path) -> tuple[dict, Vocab, SentimentClassifier]:
    """The checkpoint, vocabulary and live model of a run to resume; the frozen table, kept
    out of last.pt, comes back from model.pt."""
    saved = checkpoint.load(run_dir, config.train.epochs)
    vocab = Vocab.load(run_dir / rundir.VOCAB)
    table = weights.load_weights(run_dir / rundir.WEIGHTS)[checkpoint.FROZEN]
    for key in ("model", "averaged", "best_model"):
        if saved.get(key) is not None:
            saved[key] = checkpoint.with_frozen(saved[key], table)
    model = weights.model_from_state(config, vocab, saved["model"], run_dir / rundir.LAST,
                                       freeze=config.vectors.freeze)
    return saved, vocab, model
