"""Typed configuration: YAML → dataclasses, dotted ``--set`` overrides, helpful errors.

Every section is a plain dataclass with defaults, so the YAML only needs what differs.
Unknown keys are errors that name the key and suggest the closest valid one; values are
type-checked; fields with a fixed set of values declare it with ``choice(...)``, and every
number field its allowed range with ``bounded(...)`` (tests/config/test_schema.py checks that each does).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import yaml

from sentinet.errors import SentinetError, printable
from sentinet.config.yamlfile import YAMLSyntaxError, load_yaml, parse_yaml, read_yaml  # noqa: F401 (config.read_yaml, as callers know it)
from sentinet.config.encoders import ENCODER_OPTIONS
from sentinet.config.fields import (
    EncoderOptions, bounded, check_range, choice, coerce, join_key, suggest_name, unknown_key,
)


SEED_MAX = 2**32 - 1  # sklearn's random_state takes no more


@dataclass
class DataConfig:
    """Where the labelled tweets are and how tweet-level training labels are made."""

    # One file or a list. Relative paths: under $SENTINET_DATA when set, else data/ here, the checkout's
    # data/ and ../shared/data, the user data folder; then beside the config (README: Data and vectors).
    # With several files the first is the target domain: the dev split and the folds are
    # carved from it, the others only add training tweets (e.g. the other domain's file).
    train: str | list[str] = ""
    train_weights: list[float] = bounded([], gt=0)  # per train file loss weight (default 1 each)
    dev: str | None = None  # explicit dev file; when absent, a stratified split of train
    # auto: from the file extension (a .txt whose first line starts with __label__ is fastText's)
    format: str = choice("auto", "sentirueval", "tsv", "csv", "jsonl", "txt", "fasttext")
    # TSV/CSV quoting. auto: TSV has none (a tab separates, a newline ends a record, a '"' is
    # just a character, as in raw tweet exports) and CSV is quoted ("a, b" and "" inside, RFC
    # 4180). none / quoted force one reading for both.
    quoting: str = choice("auto", "none", "quoted")
    text_column: str = "text"  # tsv/csv/jsonl column names
    label_column: str = "label"  # tsv/csv/jsonl: any labels (numbers, or text like positive)
    # tsv/csv, model.head: multilabel: what separates a text's labels in its cell, e.g. "|" for
    # `praise|question` ("": one label per cell). JSON Lines give a list, fastText several __label__.
    label_separator: str = ""
    # The classes in class-id order, e.g. [-1, 0, 1] or [positive, negative, neutral, speech,
    # skip]. Empty: the labels found in the training data (numbers ascending, other text
    # alphabetically). A run stores the resolved list; a data label outside it is an error.
    labels: list[int | str] = field(default_factory=list)
    id_column: str = "id"  # optional; the line number when absent
    date_column: str = "date"  # tsv/csv/jsonl: unix time or ISO date (SentiRuEval XML: its date)
    # share of data.train held out as dev (random, grouped, temporal)
    val_fraction: float = bounded(0.1, gt=0, lt=1)
    # fixed apart from train.seed, so seeds are compared on one dev set
    split_seed: int = bounded(13, ge=0, le=SEED_MAX)
    # random: tweets are split one by one. grouped: tweets whose text is the same once URLs,
    # mentions and numbers are ignored (retweets, news reposts) stay on one side, so dev
    # measures generalisation rather than recall of duplicates. temporal: dev is the latest
    # val_fraction of tweets by date (or every tweet from dev_from on), the way next year's
    # data differs from this year's; extra train files lose their tweets from the dev period.
    split: str = choice("random", "grouped", "temporal")
    dev_from: str | None = None  # temporal: an ISO date; tweets from then on are dev
    # k-fold cross-validation (`sentinet train --folds K` sets both): fold i of K is dev.
    # random/grouped: stratified (grouped) folds; temporal: K consecutive periods.
    folds: int = bounded(0, ge=0, le=1000)  # 0: no folds; otherwise at least 2
    fold: int = bounded(0, ge=0)  # which fold is dev (0-based); set by --folds
    # A tweet can mention several companies with different labels. Training needs one label
    # per tweet: all companies agree → that label; otherwise this policy decides.
    conflict_policy: str = choice("drop", "majority", "neutral")
    # Unlabelled texts (any reader format; labels, if any, are ignored) that only the
    # auxiliary language-model objective (train.aux_lm) reads: e.g. the other domain's file.
    unlabeled: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.labels:
            from sentinet.labels import LabelSet

            self.labels = list(LabelSet.of(self.labels).values)
        n = len(self.train) if isinstance(self.train, list) else 1
        if self.train_weights and len(self.train_weights) != n:
            raise SentinetError(f"data.train_weights: {self.train_weights} must be {n} positive "
                                "number(s), one per data.train file")
        check_folds(self.folds, "data.folds")
        if self.folds and not 0 <= self.fold < self.folds:
            raise SentinetError(f"data.fold: {self.fold} must be in 0..{self.folds - 1}")
        if self.dev_from is not None:
            if self.split != "temporal":
                raise SentinetError("data.dev_from needs data.split: temporal")
            parse_date(self.dev_from, "data.dev_from")


def parse_date(value: object, where: str) -> float:
    """Unix seconds from unix time (a number, or digits) or an ISO date/datetime (UTC if no zone)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SentinetError(f"{where}: {text!r} is neither unix time nor an ISO date "
                            "(e.g. 2014-07-01 or 2014-07-01T12:00:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass
class TokenizerConfig:
    """Tweet normalisation; every step can be switched off."""

    lowercase: bool = True  # lowercase every token
    yo_to_e: bool = True  # ё → е
    urls: str = choice("placeholder", "keep", "drop")  # placeholder: <url>
    users: str = choice("placeholder", "keep", "drop")  # @name; placeholder: <user>
    numbers: str = choice("placeholder", "keep", "drop")  # placeholder: <num>
    hashtags: str = choice("strip", "keep", "drop")  # strip: #сбер → сбер; keep: #сбер
    emoticons: bool = True  # :) :-( ))) xD kept as single tokens
    emoji: bool = True  # each emoji its own token (False drops them)
    squash_elongations: bool = True  # letters repeated 3+ times → 2 (оооочень → оочень)
    retweets: str = choice("drop", "keep")  # the leading "RT" marker
    # Tokens kept per text; the rest are dropped at train, eval, predict and serve alike. A
    # stray megabyte-long "tweet" would otherwise stall training; tweets have < 60 tokens.
    max_tokens: int = bounded(256, ge=1, le=10_000)


@dataclass
class Word2VecConfig:
    """gensim word2vec (or fastText) trained on the training texts when no vectors file is given."""

    dim: int = bounded(100, ge=1, le=10_000)  # vector size
    window: int = bounded(5, ge=1, le=1000)  # context words on each side
    min_count: int = bounded(2, ge=1)  # rarer words get no vector
    # Passes over the texts. auto: 10, or more for a small corpus (about 1M tokens in all, at
    # most 100 passes), whose vectors come out nearly alike after 10; a run records the number.
    epochs: int | str = bounded("auto", ge=1, le=10_000)
    sg: bool = True  # skip-gram (True) or CBOW (False)
    # fasttext: gensim FastText, written as a fastText .bin: words never seen in training
    # (misspelt, elongated) still get vectors from their character n-grams.
    model: str = choice("word2vec", "fasttext")
    min_n: int = bounded(3, ge=1, le=100)  # fasttext: shortest character n-gram
    max_n: int = bounded(6, ge=1, le=100)  # fasttext: longest character n-gram (at least min_n)
    # fasttext: hash buckets for the n-grams; the .bin holds bucket x dim floats (200000 x 100: 80 MB)
    bucket: int = bounded(200000, ge=1, le=100_000_000)

    def __post_init__(self) -> None:
        if isinstance(self.epochs, str) and self.epochs != "auto":
            raise SentinetError(f"vectors.word2vec.epochs: {self.epochs!r} is neither auto nor a whole number "
                                "from 1 to 10000")


@dataclass
class VectorsConfig:
    """Pretrained word vectors: frozen by default, only the rows the model needs."""

    path: str | None = None  # relative: as data.train, under $SENTINET_VECTORS (../shared/embeddings)
    format: str = choice("auto", "word2vec", "word2vec-text", "kv", "fasttext", "navec", "bundle")  # auto: from the extension (.bin is sniffed); kv is refused (a pickle); bundle: an exported run's vectors.npz
    dim: int | None = bounded(None, ge=1, le=10_000)  # when set, a file of another dimension is an error
    freeze: bool = True  # keep pretrained rows fixed (see unfreeze_epoch)
    # Training words without a pretrained vector: "learn" gives each one seen oov_min_count
    # times a trainable vector (the rest share <unk>); "unk" maps them all to a trainable
    # <unk>; "zero" maps them all to a fixed zero vector.
    oov: str = choice("learn", "unk", "zero")
    oov_min_count: int = bounded(2, ge=1)  # oov: learn gives a trainable row to words seen this often
    word2vec: Word2VecConfig = field(default_factory=Word2VecConfig)
    cache_dir: str | None = None  # trained word2vec cache; default $SENTINET_CACHE or ~/.cache/sentinet
    # More vector files appended to each word's vector (e.g. navec + in-domain word2vec);
    # a word missing from one file gets zeros in that file's part. Same path rules as path.
    concat: list[str] = field(default_factory=list)
    # Late unfreezing: from this epoch on the pretrained vectors train too, at their own lr.
    unfreeze_epoch: int | None = bounded(None, ge=1)  # null: never
    unfreeze_lr: float = bounded(1e-4, gt=0)  # learning rate of the unfrozen vectors


@dataclass
class ModelConfig:
    """The classifier around the encoder: dropouts and Kim's options."""

    encoder: EncoderOptions = field(default_factory=EncoderOptions)
    embedding_dropout: float = bounded(0.0, ge=0, lt=1)  # dropout on the word vectors
    head_dropout: float = bounded(0.5, ge=0, lt=1)  # dropout before the linear head
    # Kim (2014): a frozen and a trainable copy of the vectors side by side (the encoder sees
    # 2 x dim inputs)
    multichannel: bool = False
    # Kim (2014): rows of the head's weights rescaled to at most this L2 norm.
    head_max_norm: float | None = bounded(None, gt=0)  # null: no limit
    # training only: this share of word ids is replaced by <unk>
    word_dropout: float = bounded(0.0, ge=0, lt=1)
    # linear: one logit per class. hierarchical: a Huffman tree over the classes (by training
    # frequency), one sigmoid decision per node: for label sets of thousands of classes.
    # multilabel: one sigmoid per class and any number of labels per text (binary
    # cross-entropy; train.class_weights weigh each class's positives; each class's threshold
    # is chosen on dev and saved in decision.json).
    head: str = choice("linear", "hierarchical", "multilabel")
    # Transfer: start from another run's word vectors, encoder and (when the label sets and
    # heads match) head. Its encoder options and vector size must equal this config's.
    init_from: str | None = None

    def __post_init__(self) -> None:
        if self.head == "hierarchical" and self.head_max_norm:
            raise SentinetError("model.head_max_norm: limits the linear head's class weights; "
                                "model.head: hierarchical has none (set it to null)")


@dataclass
class OptimizerConfig:
    """The torch optimizer for the trainable parameters."""

    name: str = choice("adam", "adamw", "sgd", "rmsprop")  # the torch.optim optimizer
    lr: float = bounded(1e-3, gt=0)  # learning rate
    weight_decay: float = bounded(0.0, ge=0)  # L2 penalty (decoupled for adamw)
    momentum: float = bounded(0.9, ge=0, lt=1)  # sgd and rmsprop
    nesterov: bool = False  # sgd

    def __post_init__(self) -> None:
        if self.nesterov and self.name == "sgd" and self.momentum == 0:
            raise SentinetError("train.optimizer.nesterov: true needs train.optimizer.momentum > 0")


@dataclass
class SchedulerConfig:
    """Learning-rate schedule: step decay, reduce-on-plateau (dev F-macro) or warmup + linear decay."""

    name: str = choice("none", "step", "plateau", "linear")  # none: constant learning rate
    step_size: int = bounded(5, ge=1)  # step: epochs between decays
    gamma: float = bounded(0.5, gt=0, lt=1)  # step and plateau: the lr is multiplied by this
    patience: int = bounded(1, ge=0)  # plateau: epochs without a better dev F-macro before decaying
    warmup: float = bounded(0.1, ge=0, le=1)  # linear: share of all training steps spent warming up


@dataclass
class LrScaleConfig:
    """Per-part learning rates: each part trains at train.optimizer.lr times its scale
    (0 keeps the part fixed), e.g. a transferred encoder slower than a new head."""

    embeddings: float = bounded(1.0, ge=0)  # the trainable word rows (<unk>, learned OOV words)
    encoder: float = bounded(1.0, ge=0)
    head: float = bounded(1.0, ge=0)


@dataclass
class AuxLMConfig:
    """Multitask learning: the encoder's forward states also predict the next word and its
    backward states the previous one, so it learns what tweets say, not only their labels."""

    weight: float = bounded(0.0, ge=0)  # the LM loss's share of the training loss; 0: off
    # full: a softmax over the LM words. hierarchical: a Huffman tree over them (fastText's
    # hierarchical softmax): log2(V) sigmoid decisions per word instead of V logits.
    softmax: str = choice("hierarchical", "full")
    vocab_size: int = bounded(20000, ge=2, le=10_000_000)  # the most frequent words predicted; the rest are one <other>
    min_count: int = bounded(2, ge=1)  # rarer words are <other> too


@dataclass
class DistillConfig:
    """Knowledge distillation (`sentinet distill`): the run learns an ensemble's probabilities
    on its training texts (and on more unlabelled ones) instead of their gold labels, so one
    model predicts about as well as the ensemble at a fraction of its cost. Dev stays gold."""

    teacher: str | None = None  # an ensemble directory (--seeds/--folds group, sentinet ensemble); null: off
    # Both the ensemble's probabilities and the run's softmax (sigmoids, multi-label) are
    # softened by it in the loss (times its square, as Hinton et al. 2015); 1: as they are.
    temperature: float = bounded(1.0, gt=0, le=100)
    # More texts for the ensemble to label and the run to learn (any reader format; labels
    # ignored; dev texts, and under a temporal split the dev period's, left out).
    unlabeled: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    """The training loop: epochs, batches, loss, early stopping, averaging."""

    epochs: int = bounded(20, ge=1, le=100_000)  # at most; early stopping may end sooner
    batch_size: int = bounded(64, ge=1, le=1_000_000)  # tweets per optimizer step
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    clip_grad_norm: float | None = bounded(5.0, ge=0)  # max gradient L2 norm; 0 or null: no clipping
    patience: int = bounded(5, ge=1)  # epochs without a better dev score (train.metric) before stopping
    # What selects the best epoch, model and trial. auto: the official SentiRuEval F-macro for
    # -1/0/1 labels, else macro_f1; weighted_f1 suits imbalanced sets scored that way; accuracy
    # (multi-label: the share of texts whose label set is exactly right). Multi-label runs also
    # have micro_f1 (over every text-label decision) and samples_f1 (per text, averaged).
    metric: str = choice("auto", "sentirueval", "macro_f1", "weighted_f1", "accuracy", "micro_f1", "samples_f1")
    # weights, dropout and batch order (the dev split has data.split_seed)
    seed: int = bounded(13, ge=0, le=SEED_MAX)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    bucket_pool: int = bounded(50, ge=1)  # batches per pool of similar-length tweets (1 = no bucketing)
    num_threads: int | None = bounded(None, ge=1, le=4096)  # torch CPU threads; null: the cores other processes leave free
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    # Loss: "balanced" weighs classes by inverse training frequency; or one weight per class
    # in the run's class order (data.labels), e.g. [neg, neu, pos] for -1/0/1. model.head:
    # multilabel: the weight of each class's positives (balanced: its negatives / positives).
    class_weights: str | list[float] = bounded("none", gt=0)
    label_smoothing: float = bounded(0.0, ge=0, lt=1)  # share of each target spread over the other classes
    # Per-class biases on the log-probabilities, tuned on dev F-macro after training and
    # saved with the run (decision.json); eval and predict apply them.
    tune_decision: bool = False
    # Weight averaging (torch.optim.swa_utils): the averaged weights are what dev scores and
    # the checkpoint see. ema: exponential moving average after every step (ema_decay);
    # swa: equal average of the weights at the end of each epoch from swa_start on.
    averaging: str = choice("none", "ema", "swa")
    ema_decay: float = bounded(0.998, gt=0, lt=1)  # ema: weight of the running average at each step
    swa_start: int = bounded(2, ge=1)  # swa: first epoch whose weights enter the average
    lr_scale: LrScaleConfig = field(default_factory=LrScaleConfig)
    aux_lm: AuxLMConfig = field(default_factory=AuxLMConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    # After the run, also fit `sentinet baseline` (TF-IDF + logistic regression) on the same data
    # and split, and print both dev F-macros side by side (its run directory beside this one's).
    baseline: bool = False
    # none, or a linear part beside the network, for the errors it does not share (word and character
    # n-grams against word vectors and order). blend: the run also fits the TF-IDF baseline on
    # its own training split and keeps it (linear.json, linear.npz); predictions average the two
    # with the network's weight chosen on dev from train.hybrid_shares (hybrid.json; 0 and 1
    # keep one part alone where blending does not pay). wide: a sparse linear layer over hashed
    # word and character n-grams, trained with the network (one model).
    hybrid: str = choice("none", "blend", "wide")
    # blend: the network's shares of the average tried on dev (the best kept; a tie goes to the
    # share nearest 0.5). One share fixes it, e.g. [0.5] where the dev split is no guide.
    hybrid_shares: list[float] = bounded([0.0, 0.3, 0.5, 0.7, 1.0], ge=0, le=1)

    def __post_init__(self) -> None:
        w = self.class_weights
        if isinstance(w, str) and w not in ("none", "balanced"):
            raise SentinetError(f"train.class_weights: {w!r} is not none, balanced or a list of numbers")
        if isinstance(w, list) and not w:
            raise SentinetError("train.class_weights: [] must be positive numbers, one per class")
        if not self.hybrid_shares:
            raise SentinetError("train.hybrid_shares: [] names no share to try; give at least one, e.g. [0.5]")


@dataclass
class RunConfig:
    """Where the run directory goes and what it is called."""

    name: str = ""  # run directory prefix; defaults to the config file's stem
    output_dir: str = "runs"  # where run directories are created
    tensorboard: bool = False  # also log per-epoch scalars to <run>/tensorboard (the tensorboard extra)
    # When stderr is not a terminal (nohup, Docker, Slurm): a progress line this often, in
    # seconds (a terminal gets tqdm's bar instead); 0: none.
    progress_every: float = bounded(60.0, ge=0)

    def __post_init__(self) -> None:
        if self.name:
            check_run_name(self.name)


def check_plain_name(name: str, what: str, advice: str = "") -> str:
    """A name that becomes one directory (a run, a study): a name, never a path, so no config,
    ``--set`` or option can make sentinet write anywhere else."""
    bad = [c for c in ("/", "\\", "\0") if c in name] or printable(name) != name  # a control character
    if not name or bad or name in (".", "..") or name != name.strip() or Path(name).is_absolute():
        raise SentinetError(f"{what}: {name[:80]!r} must be a plain name (no '/', '\\', '..', control "
                            f"characters or surrounding spaces){advice}")
    return name


def check_run_name(name: str) -> str:
    return check_plain_name(name, "run.name", "; choose the parent directory with run.output_dir "
                                              "or --output-dir")


def check_folds(folds: int, where: str) -> None:
    """k-fold cross-validation: 0 (none) or at least 2 folds."""
    if folds == 1:
        raise SentinetError(f"{where}: 1 fold is no cross-validation; use at least 2 folds (or 0: none)")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    vectors: VectorsConfig = field(default_factory=VectorsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)
    # The folder of the YAML file it was read from, if any: relative data and vector paths are
    # looked for beside it too. Not a key: never written to a run's config.yaml.
    folder: ClassVar[Path | None] = None

    def __post_init__(self) -> None:
        if self.model.head == "multilabel":
            check_multilabel(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def label_set(self):  # -> sentinet.labels.LabelSet (imported here: labels sits below config)
        """The run's classes as stored (data.labels), multi-label or not (model.head)."""
        from sentinet.labels import LabelSet

        return LabelSet.of(self.data.labels, self.model.head == "multilabel")


def check_multilabel(config: Config) -> None:
    """What a multi-label run cannot combine with, refused before anything is read."""
    t = config.train
    clashes = {"train.hybrid": t.hybrid != "none", "train.baseline": t.baseline,
               "train.tune_decision": t.tune_decision, "train.label_smoothing": t.label_smoothing > 0,
               "train.metric": t.metric == "sentirueval"}
    for key, clash in clashes.items():
        if clash:
            raise SentinetError(f"{key}: not available with model.head: multilabel (each class's threshold "
                                "is tuned on dev instead of a decision bias; the linear baseline and the "
                                "hybrids are single-label); leave it at its default")


# --------------------------------------------------------------------------------------
# Loading


Encoders = Mapping[str, type[EncoderOptions]]  # encoder name → its options (ENCODER_OPTIONS)


def load_config(path: str | Path | None, overrides: Iterable[str] | None = None) -> Config:
    """Read a YAML config (None: the defaults), apply ``a.b=value`` overrides, build and validate
    it (``model.encoder`` against the encoder registry, sentinet.config.encoders)."""
    raw = apply_overrides({} if path is None else read_yaml(Path(path)), overrides or ())
    config = from_dict(raw)
    if path is not None:
        config.folder = Path(path).resolve().parent
        if not config.run.name:
            config.run.name = check_run_name(Path(path).stem)
    return config


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """The one place ``--set`` / ``overrides=`` items reach a config: each ``a.b.c=value`` set in
    the raw dict, in order (changed in place and returned). The value is parsed as YAML (3, true,
    [3,4]) by the strict reader config files go through (a key twice, an alias bomb, deep nesting
    and size refused); text that is not YAML at all is taken as the plain string."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise SentinetError(f"--set {item!r}: expected KEY=VALUE, e.g. train.epochs=5")
        try:
            value = parse_yaml(text, f"--set {key.strip()}") if text.strip() else ""
        except YAMLSyntaxError:
            value = text
        if value == "" and text.strip() not in ("", "''", '""'):
            value = text  # `|` or `>` alone is an empty YAML block, but meant as itself (a separator)
        parts = key.strip().split(".")
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                if i == len(parts) - 2 and part == "encoder" and isinstance(child, str):
                    child = node[part] = {"name": child}  # `encoder: gru` shorthand
                else:
                    raise SentinetError(f"--set {key}: '{'.'.join(parts[: i + 1])}' is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def from_dict(raw: dict[str, Any], encoders: Encoders = ENCODER_OPTIONS) -> Config:
    """A validated Config from a raw mapping; ``encoders={}`` leaves ``model.encoder`` out (a
    baseline run's config has no encoder)."""
    return _build(Config, raw, "", encoders)


def _build(cls: type, raw: Any, where: str, encoders: Encoders) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SentinetError(f"{where or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise SentinetError(unknown_key(str(key), where, list(fields)))
        values[key] = _check_value(hints[key], fields[key], value, join_key(where, key), encoders)
    for key, hint in hints.items():  # sections left out still get their encoder's own options
        if key not in values and (hint is EncoderOptions or dataclasses.is_dataclass(hint)):
            if hint is not EncoderOptions or EncoderOptions.name in encoders:
                values[key] = _check_value(hint, fields[key], None, join_key(where, key), encoders)
    return cls(**values)


def _build_encoder(raw: Any, where: str, encoders: Encoders) -> EncoderOptions:
    if isinstance(raw, str):
        raw = {"name": raw}
    raw = dict(raw or {})
    name = raw.get("name", EncoderOptions.name)
    if name not in encoders:
        hint = suggest_name(str(name), list(encoders))
        raise SentinetError(f"{join_key(where, 'name')}: unknown encoder {name!r}{hint}")
    return _build(encoders[name], raw, where, encoders)


def _check_value(hint: Any, f: dataclasses.Field, value: Any, where: str, encoders: Encoders) -> Any:
    if hint is EncoderOptions:
        return _build_encoder(value, where, encoders)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, encoders)
    value = coerce(hint, value, where)
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        hint_text = suggest_name(str(value), list(choices))
        raise SentinetError(f"{where}: {value!r} is not one of {', '.join(choices)}{hint_text}")
    bounds = f.metadata.get("range")
    if bounds is not None:
        or_null = " or null" if type(None) in typing.get_args(hint) else ""
        for i, x in enumerate(value) if isinstance(value, list) else [(None, value)]:
            check_range(x, bounds, where if i is None else f"{where}[{i}]", or_null)
    return value


def train_files(data: DataConfig) -> list[str]:
    """``data.train`` as a list, whether the YAML gave one file or several."""
    return list(data.train) if isinstance(data.train, list) else [data.train] if data.train else []


def dump_yaml(config: Config) -> str:
    """The config as YAML, every default spelled out (what a run directory keeps)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True)
