"""Run directories: what a training run leaves behind, and how eval/predict load it.

``runs/<name>-<timestamp>/`` holds the resolved ``config.yaml``, ``vocab.json``, the best
weights ``model.pt`` (the state_dict with the record of its epoch and dev scores, loaded with
``weights_only=True``: never unpickled), ``metrics.json`` (every epoch and the best), ``train.log``,
``dev_predictions.json`` (the best model's dev probabilities) and, when tuned, ``decision.json``
(per-class decision bias). Until training has finished, an ``INCOMPLETE`` note says so (see
sentinet.incomplete).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from sentinet import incomplete
from sentinet.config import Config, dump_yaml, from_dict, read_yaml
from sentinet.data.vocab import Vocab
from sentinet.labels import LabelSet
from sentinet.errors import SentinetError
from sentinet.fileio import atomic_torch_save, atomic_write_text, load_torch
from sentinet.models.classifier import Embedder, SentimentClassifier
from sentinet.models import ENCODER_OPTIONS

CONFIG, VOCAB, WEIGHTS, METRICS, LOG = "config.yaml", "vocab.json", "model.pt", "metrics.json", "train.log"
DECISION, ENSEMBLE, DEV = "decision.json", "ensemble.json", "dev_predictions.json"


def new_run_dir(output_dir: str | Path, name: str) -> Path:
    """A fresh directory; never reuses one, so earlier runs are never overwritten."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(output_dir) / f"{name}-{stamp}"
    for i in range(1, 1000):
        path = base if i == 1 else base.with_name(f"{base.name}-{i}")
        try:
            return create_run_dir(path)
        except FileExistsError:
            continue
    raise SentinetError(f"{base}: too many runs with this name and timestamp")


def create_run_dir(path: Path) -> Path:
    """Make ``path`` (which must not exist) and mark it incomplete before anything else."""
    try:
        path.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise
    except OSError as exc:
        raise SentinetError(f"{path}: cannot create run directory ({exc.strerror})") from None
    try:
        incomplete.mark(path, incomplete.TRAINING)
    except BaseException:
        path.rmdir()
        raise
    return path


def save_weights(state_dict: dict, path: Path, record: dict) -> None:
    """The weights and the record of what they are (``best_epoch``, ``best`` dev scores) in
    one file, replaced in one rename: the record can never name other weights than it holds."""
    state = {"state_dict": state_dict, **record}
    atomic_torch_save(state, path)


def write_config(config: Config, path: Path) -> None:
    atomic_write_text(path, dump_yaml(config))


def save_dev_predictions(run_dir: Path, ids: list[str], gold: list[dict], probs) -> None:
    """The best model's dev probabilities, for ensembling and decision analysis after the fact."""
    rows = [{"id": i, "gold": g, "probs": [round(float(p), 6) for p in ps]}
            for i, g, ps in zip(ids, gold, probs)]
    atomic_write_text(run_dir / DEV, json.dumps(rows, ensure_ascii=False))


def save_decision(run_dir: Path, bias) -> None:
    atomic_write_text(run_dir / DECISION, json.dumps({"bias": list(bias)}))


def load_decision(run_dir: Path, labels: LabelSet) -> tuple[float, ...] | None:
    """The run's tuned decision bias (one per class), or None when it has none."""
    path = run_dir / DECISION
    if not path.is_file():
        return None
    try:
        bias = tuple(float(b) for b in json.loads(path.read_text(encoding="utf-8"))["bias"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SentinetError(f"{path}: unreadable decision rule ({exc})") from None
    if len(bias) != len(labels):
        raise SentinetError(f"{path}: {len(bias)} biases for the run's {len(labels)} classes")
    return bias


@dataclass
class LoadedRun:
    run_dir: Path
    config: Config
    vocab: Vocab
    model: SentimentClassifier

    @property
    def labels(self) -> LabelSet:
        return LabelSet.of(self.config.data.labels)


def find_run_dir(path: str | Path) -> Path:
    """Accept a run directory or the ``model.pt`` inside one."""
    path = Path(path)
    run_dir = path.parent if path.is_file() else path
    missing = [f for f in (CONFIG, VOCAB, WEIGHTS) if not (run_dir / f).is_file()]
    if not path.exists():
        raise SentinetError(f"{path}: no such run directory or model file")
    why = incomplete.status(run_dir) if missing else None
    if why is not None:
        raise SentinetError(incomplete.message(run_dir, f"{why}; no {missing[-1]} yet"))
    if missing:
        raise SentinetError(f"{path}: not a sentinet run (missing {', '.join(missing)})")
    return run_dir


def read_config(path: Path) -> Config:
    """A run's config.yaml; any problem is one line naming the file."""
    try:
        return from_dict(read_yaml(path), ENCODER_OPTIONS)
    except SentinetError as exc:
        message = str(exc)
        raise SentinetError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def load_weights(path: Path) -> dict:
    """The state_dict of model.pt (with its record, or a plain state_dict of older runs)."""
    state = load_torch(path, "weights file")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SentinetError(f"{path}: not a sentinet weights file (expected a state_dict of tensors)")
    return state


def load_record(path: Path) -> dict:
    """``best_epoch`` and ``best`` scores of the weights in model.pt ({} for older runs):
    the truth about a killed run, whose metrics.json may lag an epoch behind."""
    state = load_torch(path, "weights file")
    if not isinstance(state, dict) or "state_dict" not in state:
        return {}
    return {k: state[k] for k in ("best_epoch", "best") if k in state}


def load_run(path: str | Path, device: torch.device) -> LoadedRun:
    run_dir = find_run_dir(path)
    config = read_config(run_dir / CONFIG)
    vocab = Vocab.load(run_dir / VOCAB)
    model = model_from_state(config, vocab, load_weights(run_dir / WEIGHTS), run_dir / WEIGHTS)
    return LoadedRun(run_dir, config, vocab, model.to(device).eval())


def model_from_state(config: Config, vocab: Vocab, state: dict, path: Path,
                     freeze: bool = True) -> SentimentClassifier:
    """A classifier shaped by the config and vocabulary, holding the saved weights; the
    pretrained table's size comes from the state itself (no vectors file needed)."""
    check_vocab_fits(vocab, state, path)
    unfit = f"{path}: weights do not fit the run's config.yaml and vocab.json"
    try:
        pretrained = state["embedder.pretrained.weight"]
        embedder = Embedder(
            torch.zeros_like(pretrained), vocab.n_learned,
            freeze=freeze, learn_oov=config.vectors.oov != "zero",
            multichannel=config.model.multichannel,
        )
        model = SentimentClassifier(embedder, config.model, len(LabelSet.of(config.data.labels)))
    except RuntimeError as exc:
        message = " ".join(str(exc).split())
        raise SentinetError(f"{path}: cannot load weights ({message})") from None
    mismatch = describe_mismatch(model.state_dict(), state)
    if mismatch:
        raise SentinetError(f"{unfit} ({mismatch})")
    model.load_state_dict(state)
    return model


def describe_mismatch(expected: dict, found: dict) -> str:
    """What differs between the state_dict a model expects and the one found, in full."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [f"{k} expected {tuple(v.shape)}, found {tuple(found[k].shape)}"
              for k, v in expected.items() if k in found and v.shape != found[k].shape]
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
            ([f"unexpected {', '.join(unexpected)}"] if unexpected else []) + shapes
    return "; ".join(parts)


def check_vocab_fits(vocab: Vocab, state: dict, path: Path) -> None:
    """Each word of vocab.json owns one row of the weights: a cut (or padded) vocabulary would
    give words other words' vectors and evaluate silently, so the counts must match."""
    learned, pretrained = state.get("embedder.learned.weight"), state.get("embedder.pretrained.weight")
    if learned is None or pretrained is None or learned.dim() != 2 or pretrained.dim() != 2:
        raise SentinetError(f"{path}: not a sentinet weights file (no 2-D embedding tables)")
    n_pretrained = len(vocab) - vocab.n_learned
    expected = (vocab.n_learned, max(n_pretrained, 1))  # an empty pretrained table keeps one row
    if (len(learned), len(pretrained)) != expected:
        raise SentinetError(
            f"{path.with_name(VOCAB)}: {vocab.n_learned} trainable + {n_pretrained} pretrained words "
            f"do not fit {path.name}, which has {len(learned)} + {len(pretrained)} rows "
            "(the vocabulary and the weights are from different runs, or one was cut)")
