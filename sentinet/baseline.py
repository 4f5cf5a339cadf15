"""``sentinet baseline``: TF-IDF n-grams + logistic regression on exactly a run's data, split,
labels and tokenizer, so every config shows whether its deep model earns its keep.

Features: word 1–2-grams and ``char_wb`` 2–5-grams (sublinear tf, min_df 2) of the run's
tokens joined by spaces; C is chosen on dev from ``C_GRID`` by the run's own selection metric
(``train.metric``). The result is an ordinary run directory (config.yaml, metrics.json,
dev_predictions.json, train.log) with the model as data, never a pickle: ``baseline.json``
(settings, each vectorizer's terms in column order, C, classes) and ``baseline.npz`` (idf,
coef, intercept; read with ``allow_pickle=False``). Loading rebuilds the vectorizers from their
vocabulary and idf (the same transform, bit for bit) and applies sklearn's probability rule.
No torch here: fitting needs it only to read the config (the encoder registry), predicting not at all.
"""

from __future__ import annotations

import copy
import json
import platform
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentinet.runs import rundir
from sentinet.data.npz import check_npz
from sentinet.config.schema import Config
from sentinet.evaluation.decision import decide
from sentinet.errors import SentinetError
from sentinet.fileio import atomic_open, atomic_write_text
from sentinet.labels import LabelSet

if TYPE_CHECKING:
    from sentinet.data.training_data import TrainingData

KIND = "tfidf-logreg"
C_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
MAX_ITER = 2000
FITTING = "baseline: fitting has not finished: it is running, or was killed"  # its INCOMPLETE status
# Tokens joined by spaces: \S+ gives the tokens back; the tokenizer already lowercased as configured.
VECTORIZERS = (
    {"analyzer": "word", "ngram_range": [1, 2], "token_pattern": r"\S+", "lowercase": False,
     "min_df": 2, "sublinear_tf": True},
    {"analyzer": "char_wb", "ngram_range": [2, 5], "lowercase": False, "min_df": 2, "sublinear_tf": True},
)
SETTINGS = {"analyzer", "ngram_range", "token_pattern", "lowercase", "min_df", "sublinear_tf"}
# explain's stand-in for an occluded token: no n-gram of the vocabulary contains it, so the
# token's features vanish while its neighbours stay apart (what <unk> is to the network).
MASK = "\x00"


def is_baseline(path: str | Path) -> bool:
    return (Path(path) / rundir.BASELINE_JSON).is_file()


def vectorizer(settings: dict, vocabulary: list[str] | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    if set(settings) - SETTINGS or settings.get("analyzer") not in ("word", "char", "char_wb"):
        raise ValueError(f"unknown vectorizer settings {sorted(settings)[:8]}")
    low, high = (int(n) for n in settings["ngram_range"])
    return TfidfVectorizer(**{**settings, "ngram_range": (low, high)}, vocabulary=vocabulary, dtype=np.float64)


def hstacked(parts: list):
    from scipy import sparse

    return sparse.hstack(parts, format="csr")


@dataclass
class LinearModel:
    """Fitted vectorizers and logistic-regression weights over the hstacked features."""

    vectorizers: list
    coef: np.ndarray  # [1 or classes fitted, features]
    intercept: np.ndarray
    fitted: np.ndarray  # the class ids the regression saw (sklearn's classes_)
    n_classes: int

    def features(self, docs: list[str]):
        return hstacked([v.transform(docs) for v in self.vectorizers])

    def predict(self, docs: list[str]) -> np.ndarray:
        """Probabilities [N, classes] of documents (tokens joined by spaces), 4096 at a time
        (the sparse matrices of a big file stay small)."""
        if not docs:
            return np.zeros((0, self.n_classes))
        return np.concatenate([self.proba(self.features(docs[i:i + 4096])) for i in range(0, len(docs), 4096)])

    def occlusion(self, tokens: list[str]) -> np.ndarray:
        """[N + 1, classes]: the tokens as they are, then token i replaced by ``MASK``."""
        variants = [tokens] + [tokens[:i] + [MASK] + tokens[i + 1:] for i in range(len(tokens))]
        return self.proba(self.features([" ".join(v) for v in variants]))

    def proba(self, X) -> np.ndarray:
        """sklearn's LogisticRegression.predict_proba: softmax of the decision values, or for
        two classes (one row of coef) [1 - expit(z), expit(z)]; classes it never saw get 0."""
        from scipy.special import expit
        from sklearn.utils.extmath import softmax

        z = np.asarray(X @ self.coef.T) + self.intercept
        if self.coef.shape[0] == 1:
            p = expit(z[:, 0])
            probs = np.stack([1 - p, p], axis=1)
        else:
            probs = softmax(z, copy=False)
        full = np.zeros((X.shape[0], self.n_classes), dtype=np.float64)
        full[:, self.fitted] = probs
        return full


# --------------------------------------------------------------------------------------
# Training


@dataclass
class Baseline:
    config: Config  # resolved, data.labels filled in: what config.yaml keeps
    model: LinearModel
    C: float
    grid: list[dict]  # per C: its dev scores
    report: dict  # full_report of the chosen C on dev
    dev_ids: list[str]
    dev_gold: list[dict]
    dev_probs: np.ndarray
    data: dict  # how dev was chosen and what was trained on (as metrics.json has it)
    seconds: float
    log: list[str]  # what train.log keeps: the data, each C's dev scores, the dev report


def class_weight(spec: str | list[float], labels: LabelSet, present: set[int]):
    """train.class_weights for sklearn: balanced → "balanced", none → None, a list → a dict."""
    if spec == "none":
        return None
    if spec == "balanced":
        return "balanced"
    if len(spec) != len(labels):
        raise SentinetError(f"train.class_weights: {len(spec)} weights for the {len(labels)} classes "
                            f"{list(labels.values)} (one per class, in that order)")
    return {i: float(w) for i, w in enumerate(spec) if i in present}


def fit(config: Config, progress: bool = True, data: TrainingData | None = None) -> Baseline:
    """Fit the baseline on the run's training data and pick C on its dev records; nothing is
    written (``write`` does that), so bad input leaves nothing behind. ``data``: the records a
    neural run already read (a hybrid's linear part fits on exactly that run's split)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from tqdm import tqdm

    from sentinet.data.tokenize import Tokenizer
    from sentinet.config.paths import resolve_paths  # the downloads behind it: fitting only, not predicting
    from sentinet.data.training_data import class_counts, load_training_data, log_data
    from sentinet.evaluation.metrics import all_scores, full_report, headline, resolve_metric, scores

    if config.model.head == "multilabel":
        raise SentinetError("sentinet baseline: the TF-IDF + logistic regression baseline is single-label; "
                            "this config sets model.head: multilabel (compare against micro/macro-F1 of a "
                            "multi-label run instead)")
    started = time.time()
    config = resolve_paths(copy.deepcopy(config))
    data = load_training_data(config) if data is None else data
    labels, log = data.labels, []
    resolve_metric(config.train.metric, labels)
    log_data(data, log.append, config.train.metric)
    config.data.labels = list(labels.values)
    tokenizer = Tokenizer(config.tokenizer)
    train_docs = [" ".join(tokenizer(r.text)) for r, _ in data.train]
    dev_docs = [" ".join(tokenizer(r.text)) for r in data.dev]
    y = np.asarray([c for _, c in data.train])
    if len(set(y.tolist())) < 2:
        raise SentinetError(f"baseline: the training tweets hold one class only ({labels.values[y[0]]!r})")
    weights = class_weight(config.train.class_weights, labels, set(y.tolist()))
    vectorizers = [vectorizer(s) for s in VECTORIZERS]
    try:
        X = hstacked([v.fit_transform(train_docs) for v in vectorizers])
    except ValueError as exc:  # "empty vocabulary": no n-gram in 2 training texts
        raise SentinetError(f"baseline: no features from {len(train_docs)} training tweets ({exc})") from None
    gold = [r.labels for r in data.dev]
    X_dev = hstacked([v.transform(dev_docs) for v in vectorizers])
    grid, best = [], None
    for C in tqdm(C_GRID, desc="baseline C", leave=False, disable=None if progress else True):
        lr = LogisticRegression(C=C, class_weight=weights, max_iter=MAX_ITER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr.fit(X, y, sample_weight=np.asarray(data.weights, dtype=np.float64))
        model = LinearModel(vectorizers, lr.coef_, lr.intercept_, lr.classes_.astype(np.int64), len(labels))
        probs = model.proba(X_dev)
        s = scores(gold, decide(probs, labels), labels, config.train.metric)
        grid.append({"C": C, **{k: v for k, v in s.items() if k != "pairs"}})
        log.append(f"C {C:g}\tdev {headline(s)}")
        if best is None or s["score"] > best[0]:  # ties keep the smaller C
            best = (s["score"], C, model, probs)
    _, C, model, probs = best
    report = full_report(gold, decide(probs, labels), labels, config.train.metric)
    log.append(f"chosen C {C:g}: dev {all_scores(report)}\n{report['report'].rstrip()}")
    return Baseline(config, model, C, grid, report, [r.id for r in data.dev], gold, probs,
                    {"split": data.description, "train": data.sources, "class_counts": class_counts(data)},
                    time.time() - started, log)


# --------------------------------------------------------------------------------------
# The run directory


def write(result: Baseline) -> Path:
    """``<run.name>-baseline-<time>/`` under run.output_dir, complete or removed."""
    cfg = result.config
    run_dir = rundir.new_run_dir(cfg.run.output_dir, f"{cfg.run.name}-baseline")
    try:
        rundir.mark(run_dir, FITTING)
        rundir.write_config(cfg, run_dir / rundir.CONFIG)
        save(result.model, result.C, list(cfg.data.labels), run_dir)
        left_out = rundir.save_dev_predictions(run_dir, result.dev_ids, result.dev_gold, result.dev_probs)
        result.log += [left_out] if left_out else []
        rundir.write_metrics(run_dir, metrics(result))
        atomic_write_text(run_dir / rundir.LOG, "".join(f"{line}\n" for line in [f"run: {run_dir}", *result.log]))
        rundir.clear(run_dir)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir


def metrics(result: Baseline) -> dict:
    import sklearn

    from sentinet.runs.provenance import __version__
    from sentinet.runs.provenance import git_commit

    return {
        "kind": "baseline", "model": KIND, "C": result.C, "grid": result.grid,
        "best_epoch": None, "best": {k: v for k, v in result.report.items() if k != "report"},
        "labels": list(result.config.data.labels), "decision_bias": None, "epochs": [],
        "seconds": result.seconds, "machine": f"CPU ({platform.machine()})", "interrupted": False,
        "data": result.data,
        "versions": {"sentinet": __version__, "scikit-learn": sklearn.__version__,
                     "python": platform.python_version(), "git": git_commit()},
    }


def save(model: LinearModel, C: float, classes: list, run_dir: Path,
         names: tuple[str, str] = (rundir.BASELINE_JSON, rundir.BASELINE_NPZ)) -> None:
    """baseline.npz (numbers), then baseline.json (what says it is a baseline) last. A hybrid
    run keeps the same two files as ``names`` linear.json / linear.npz (it is not a baseline)."""
    arrays = {f"idf{i}": v.idf_ for i, v in enumerate(model.vectorizers)}
    arrays.update(coef=model.coef, intercept=model.intercept, fitted=model.fitted)
    with atomic_open(run_dir / names[1], "wb") as f:
        np.savez(f, **arrays)
    spec = {
        "kind": KIND, "C": C, "classes": classes, "max_iter": MAX_ITER,
        "vectorizers": [{"settings": {**s}, "vocabulary": sorted(v.vocabulary_, key=v.vocabulary_.get)}
                        for s, v in zip(VECTORIZERS, model.vectorizers)],
    }
    atomic_write_text(run_dir / names[0], json.dumps(spec, ensure_ascii=False))


def load(run_dir: Path, names: tuple[str, str] = (rundir.BASELINE_JSON, rundir.BASELINE_NPZ)
         ) -> tuple[LinearModel, dict]:
    """The saved model (``names``: as ``save`` wrote it); a damaged or foreign file is one line
    naming it."""
    spec_path, npz_path = run_dir / names[0], run_dir / names[1]
    spec = rundir.read_json(spec_path, "baseline")
    try:
        if not isinstance(spec, dict) or spec.get("kind") != KIND:
            raise ValueError(f"kind is not {KIND!r}")
        check_npz(npz_path, "unreadable baseline weights")  # numpy inflates it whole: bound it first
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        vectorizers = []
        for i, part in enumerate(spec["vectorizers"]):
            terms, idf = part["vocabulary"], np.asarray(arrays[f"idf{i}"], dtype=np.float64)
            if not all(isinstance(t, str) for t in terms) or len(set(terms)) != len(terms) or idf.shape != (len(terms),):
                raise ValueError(f"vectorizer {i}: its vocabulary and idf do not fit")
            v = vectorizer(dict(part["settings"]), terms)
            v.idf_ = idf
            vectorizers.append(v)
        coef, intercept = np.asarray(arrays["coef"], np.float64), np.asarray(arrays["intercept"], np.float64)
        fitted, classes = np.asarray(arrays["fitted"], np.int64), spec["classes"]
        n_features = sum(len(p["vocabulary"]) for p in spec["vectorizers"])
        rows = 1 if len(fitted) == 2 else len(fitted)
        if coef.shape != (rows, n_features) or intercept.shape != (rows,) or len(fitted) < 2 \
                or fitted.min() < 0 or fitted.max() >= len(classes) or len(set(fitted.tolist())) != len(fitted):
            raise ValueError("weights do not fit the vocabulary and classes")
    except OSError as exc:
        raise SentinetError(f"{npz_path}: unreadable baseline weights ({exc.strerror or exc})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SentinetError(f"{run_dir}: unreadable baseline ({' '.join(str(exc).split())[:200]})") from None
    return LinearModel(vectorizers, coef, intercept, fitted, len(classes)), spec


class BaselinePredictor:
    """A baseline run for eval, predict, explain and serve: a
    ``sentinet.inference.protocol.Predictor`` with no torch behind it (no members, no thread
    governor, no word vectors to fetch, no gradient to follow)."""

    def __init__(self, path: Path, config: Config, model: LinearModel):
        from sentinet.data.tokenize import Tokenizer

        self.path, self.config, self.model = path, config, model
        self.classes = LabelSet.of(config.data.labels)
        if len(self.classes) != model.n_classes:
            raise SentinetError(f"{path}: {rundir.BASELINE_JSON} has {model.n_classes} classes, "
                                f"config.yaml {len(self.classes)}")
        self.tokenizer = Tokenizer(config.tokenizer)
        self.members: list[BaselinePredictor] = []  # a single model
        self.run_dirs: list[Path] = [path]
        self.threads = None  # no torch threads to govern

    @classmethod
    def load(cls, path: str | Path) -> BaselinePredictor:
        """The run's model and config. Its ``model`` section describes the neural model of the
        config it was fitted from: left unread, so no encoder registry (torch) is needed."""
        from sentinet.config.schema import from_dict, read_yaml

        path = Path(path)
        why = rundir.status(path)
        if why is not None:
            raise SentinetError(f"{path}: incomplete baseline run ({why}); run sentinet baseline again")
        model, _ = load(path)
        config_path = path / rundir.CONFIG
        try:
            config = from_dict({k: v for k, v in read_yaml(config_path).items() if k != "model"}, {})
        except SentinetError as exc:
            message = str(exc)
            raise SentinetError(message if message.startswith(str(config_path)) else f"{config_path}: {message}") from None
        return cls(path, config, model)

    def predict_proba(self, texts, batch_size: int = 256, progress: bool = True, between=None) -> np.ndarray:
        """``between`` (an ensemble's thread-governor tick) is ignored: no torch threads here, but
        an ensemble calls every member alike."""
        return self.model.predict([" ".join(self.tokenizer(t)) for t in texts])

    def labels(self, probs: np.ndarray) -> list:
        return decide(probs, self.classes)

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer(text)

    def add_unseen_words(self, tokens: list[list[str]]) -> None:
        """Nothing to add: the features are n-grams of the text, never word vectors."""

    def occlusion_probabilities(self, tokens: list[str]) -> np.ndarray:
        """The baseline's own features of each variant (it reads tokens joined by spaces), the
        occluded token replaced by ``MASK``."""
        return self.model.occlusion(tokens)

    def gradient_inputs(self, tokens: list[str]) -> list:
        raise SentinetError(f"integrated gradients need a neural model; {self.path} is a linear "
                            "baseline run: use --method occlusion")

    def close(self) -> None:
        """Nothing to release: the run directory stays the user's."""
