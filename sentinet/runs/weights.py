"""A run's weights and model: saving ``model.pt`` and loading a run for eval, predict and
resume (the run directory's other files are sentinet.runs.rundir's).

``model.pt`` holds the best epoch's state_dict with the record of that epoch and its dev
scores, replaced in one rename and loaded with ``weights_only=True``: never unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from sentinet.runs import rundir
from sentinet.config.schema import Config
from sentinet.data.vocab import Vocab
from sentinet.labels import LabelSet
from sentinet.errors import SentinetError
from sentinet.fileio import atomic_torch_save, check_regular_file, load_torch
from sentinet.models.builder import build_model
from sentinet.models.classifier import SentimentClassifier
from sentinet.models.hsoftmax import adopt_trees


def save_weights(state_dict: dict, path: Path, record: dict) -> None:
    """The weights and the record of what they are (``best_epoch``, ``best`` dev scores) in
    one file, replaced in one rename: the record can never name other weights than it holds."""
    state = {"state_dict": state_dict, **record}
    atomic_torch_save(state, path)


@dataclass
class LoadedRun:
    run_dir: Path
    config: Config
    vocab: Vocab
    model: SentimentClassifier

    @property
    def labels(self) -> LabelSet:
        return self.config.label_set()


def find_run_dir(path: str | Path) -> Path:
    """Accept a run directory or the ``model.pt`` inside one."""
    path = Path(path)
    run_dir = path.parent if path.is_file() else path
    if not path.exists():
        raise SentinetError(f"{path}: no such run directory or model file")
    for name in (rundir.CONFIG, rundir.VOCAB, rundir.WEIGHTS):
        check_regular_file(run_dir / name)  # a FIFO or a link to /dev/zero is no missing file: say what it is
    missing = [f for f in (rundir.CONFIG, rundir.VOCAB, rundir.WEIGHTS) if not (run_dir / f).is_file()]
    why = rundir.status(run_dir) if missing else None
    if why is not None:
        raise SentinetError(rundir.message(run_dir, f"{why}; no {missing[-1]} yet"))
    if missing:
        raise SentinetError(f"{path}: not a sentinet run (missing {', '.join(missing)})")
    return run_dir


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
    config = rundir.read_config(run_dir / rundir.CONFIG)
    vocab = Vocab.load(run_dir / rundir.VOCAB)
    model = model_from_state(config, vocab, load_weights(run_dir / rundir.WEIGHTS), run_dir / rundir.WEIGHTS)
    return LoadedRun(run_dir, config, vocab, model.to(device).eval())


def model_from_state(config: Config, vocab: Vocab, state: dict, path: Path,
                     freeze: bool = True) -> SentimentClassifier:
    """A classifier shaped by the config and vocabulary, holding the saved weights; the
    pretrained table's size comes from the state itself (no vectors file needed)."""
    check_vocab_fits(vocab, state, path)
    unfit = f"{path}: weights do not fit the run's config.yaml and vocab.json"
    try:  # the builder training uses, over a blank table of the saved one's size
        model = build_model(config, vocab, torch.zeros_like(state["embedder.pretrained.weight"]), freeze=freeze)
    except RuntimeError as exc:
        message = " ".join(str(exc).split())
        raise SentinetError(f"{path}: cannot load weights ({message})") from None
    adopt_trees(model, state)  # a hierarchical head's tree comes with the weights
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
            f"{path.with_name(rundir.VOCAB)}: {vocab.n_learned} trainable + {n_pretrained} pretrained words "
            f"do not fit {path.name}, which has {len(learned)} + {len(pretrained)} rows "
            "(the vocabulary and the weights are from different runs, or one was cut)")
