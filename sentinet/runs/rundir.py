"""The run directory in one place: the name of every file a run, a --seeds/--folds group or
an export holds, readers and writers for its JSON files, and the ``INCOMPLETE`` lifecycle.
Kept free of torch (``report`` and the CLI read runs without it); loading weights and models
is sentinet.runs.weights' job.

``runs/<name>-<timestamp>/`` holds the resolved ``config.yaml``, ``vocab.json``, the best
weights ``model.pt``, ``metrics.json`` (every epoch and the best), ``metrics.csv``,
``train.log``, ``dev_predictions.json`` (the best model's dev probabilities), ``last.pt`` (what
resume needs), and, when tuned, ``decision.json`` (per-class decision bias); pictures and
TensorBoard logs with their extras. A ``sentinet baseline`` run holds ``baseline.json`` and
``baseline.npz`` (sentinet.baseline) in place of the vocabulary and weights. A group directory adds ``group.json`` (what it trains) and
``ensemble.json`` (its members) to the same summary files.

The ``INCOMPLETE`` note is written first, when a directory is made, and removed last, once every
file is final; a Ctrl-C rewrites its status line, a kill -9 or a full disk leaves it as it was.
So a directory is either complete or says that it is not, and how to go on (``sentinet train
--resume``). ``eval``/``predict``/``serve``/``report`` warn about such a run; ``export`` refuses it.
A complete one stays as it finished: ``--resume`` refuses it (it keeps its ``last.pt``; the
note, not that file, says whether a run can go on).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sentinet.config.schema import Config, dump_yaml, from_dict, read_yaml
from sentinet.errors import SentinetError, printable
from sentinet.fileio import atomic_write_text, read_own_bytes, read_own_text

CONFIG, VOCAB, WEIGHTS, METRICS, LOG = "config.yaml", "vocab.json", "model.pt", "metrics.json", "train.log"
DECISION, ENSEMBLE, DEV, LAST = "decision.json", "ensemble.json", "dev_predictions.json", "last.pt"
DEV_PREDICTIONS_LIMIT = 5_000_000  # probabilities in dev_predictions.json: about 50 MB
CSV, CURVES, CONFUSION, TENSORBOARD = "metrics.csv", "curves.png", "confusion.png", "tensorboard"
NOTE, GROUP = "INCOMPLETE", "group.json"  # group.json: in a --seeds/--folds group, what it trains
NOTE_LIMIT = 64 * 1024  # INCOMPLETE holds two short lines
BUNDLE = "vectors.npz"  # in an export: the vectors of words unseen in training
BASELINE_JSON, BASELINE_NPZ = "baseline.json", "baseline.npz"  # a `sentinet baseline` run's model, as data
# A hybrid run's linear part (the baseline's two files under other names: the run is not a
# baseline) and how its predictions blend with the network's (train.hybrid: blend).
LINEAR_JSON, LINEAR_NPZ, HYBRID = "linear.json", "linear.npz", "hybrid.json"
# In an export, beside model.pt: the network as numpy arrays, for predicting without torch (sentinet.lite).
LITE_JSON, LITE_NPZ = "lite.json", "lite.npz"
READ_BY_INFERENCE = (CONFIG, VOCAB, WEIGHTS, METRICS, DECISION, ENSEMBLE, BASELINE_JSON, BASELINE_NPZ,
                     LINEAR_JSON, LINEAR_NPZ, HYBRID, LITE_JSON, LITE_NPZ)  # never an output's name
TRAINING = "training has not finished: it is running, or was killed"  # the first status


# --------------------------------------------------------------------------------------
# Making a run directory


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
    """Make ``path`` (which must not exist, or be an empty folder: ``train --run-dir``) and mark
    it incomplete before anything else."""
    try:
        path.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        if not (path.is_dir() and not path.is_symlink() and not any(path.iterdir())):
            raise
    except OSError as exc:
        raise SentinetError(f"{path}: cannot create run directory ({exc.strerror})") from None
    try:
        mark(path, TRAINING)
    except BaseException:
        path.rmdir()
        raise
    return path


def write_config(config: Config, path: Path) -> None:
    atomic_write_text(path, dump_yaml(config))


# --------------------------------------------------------------------------------------
# The JSON files


def read_json(path: Path, what: str, pick: Callable[[Any], Any] = lambda data: data) -> Any:
    """A run file's JSON, passed through ``pick`` (which takes out the fields it needs); a
    missing, damaged or oversized file, one that is no regular file, or one without those
    fields, is one line naming it."""
    try:
        text = read_own_text(path)  # a regular file of bounded size: not /dev/zero, not a FIFO
    except SentinetError as exc:
        raise SentinetError(f"{path}: unreadable {what} ({str(exc).removeprefix(f'{path}: ')})") from None
    try:
        return pick(json.loads(text))
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise SentinetError(f"{path}: unreadable {what} ({exc})") from None


def write_metrics(run_dir: Path, metrics: dict) -> None:
    atomic_write_text(run_dir / METRICS, json.dumps(metrics, indent=2))


def read_metrics(run_dir: Path) -> dict:
    metrics = read_json(run_dir / METRICS, "metrics")
    if not isinstance(metrics, dict):
        raise SentinetError(f"{run_dir / METRICS}: unreadable metrics (not a JSON object)")
    return metrics


def read_config(path: Path) -> Config:
    """A run's config.yaml; any problem is one line naming the file (no torch needed)."""
    try:
        return from_dict(read_yaml(path))
    except SentinetError as exc:
        message = str(exc)
        raise SentinetError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def write_members(group: Path, members: Sequence[str], weights: Sequence[float] | None = None) -> None:
    """ensemble.json: the member directories, relative to the ensemble's own, and their weights
    (normalised) when given; without them the file is the one every earlier release wrote."""
    manifest: dict[str, Any] = {"members": list(members)}
    if weights is not None:
        manifest["weights"] = check_weights(list(weights), len(manifest["members"]))
    atomic_write_text(group / ENSEMBLE, json.dumps(manifest, indent=2))


def members(path: Path) -> list[Path]:
    """Member run directories listed in ensemble.json (relative to the ensemble directory)."""
    manifest = path / ENSEMBLE
    names = read_json(manifest, "ensemble manifest", lambda data: _names(data["members"]))
    if not names:
        raise SentinetError(f"{manifest}: the ensemble has no members")
    return [(path / m).resolve() for m in names]


def member_weights(path: Path) -> list[float] | None:
    """ensemble.json's weights (one per member, summing to 1), or None: equal weights, as every
    ensemble written before weights existed."""
    manifest = path / ENSEMBLE
    count = len(members(path))
    return read_json(manifest, "ensemble manifest",
                     lambda data: None if data.get("weights") is None else check_weights(data["weights"], count))


def check_weights(listed: Any, count: int) -> list[float]:
    """``listed`` normalised to sum 1, if it is one positive finite number per member; else
    ValueError (the caller names the file or the option)."""
    numbers = listed if isinstance(listed, list) else []
    if len(numbers) != count or not all(positive_number(w) for w in numbers):
        raise ValueError(f"weights is not a list of {count} positive numbers, one per member")
    total = math.fsum(numbers)
    shares = [w / total for w in numbers] if math.isfinite(total) else []
    if not shares or not all(positive_number(w) for w in shares):
        raise ValueError("weights too far apart to share 1 between them")
    return shares


def positive_number(value: Any) -> bool:
    """A finite number above 0 (never a bool): a weight ensemble.json or --weights may hold."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _names(listed: Any) -> list[str]:
    """ensemble.json's members: a list of folder names (a bare string would read as letters)."""
    if not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
        raise ValueError("members is not a list of folder names")
    return listed


def save_dev_predictions(run_dir: Path, ids: Sequence[str], gold: Sequence[dict], probs) -> str | None:
    """The best model's dev probabilities, for ensembling and decision analysis after the fact;
    left out (returns a note saying so) past DEV_PREDICTIONS_LIMIT probabilities, since they
    grow with dev size times classes: 5,000 classes wrote 246 MB."""
    values = len(ids) * (len(probs[0]) if len(probs) else 0)
    if values > DEV_PREDICTIONS_LIMIT:
        return (f"{DEV} not written: {len(ids):,} dev records x {len(probs[0]):,} classes is over "
                f"{DEV_PREDICTIONS_LIMIT:,} probabilities (ensembles and decision tuning need it)")
    rows = [{"id": i, "gold": g, "probs": [round(float(p), 6) for p in ps]}
            for i, g, ps in zip(ids, gold, probs)]
    atomic_write_text(run_dir / DEV, json.dumps(rows, ensure_ascii=False))
    return None


def load_dev_predictions(run_dir: Path) -> tuple[list[dict], list[list[float]]]:
    """(gold labels, probabilities) of every dev record, in order."""
    return read_json(run_dir / DEV, "dev predictions",
                     lambda rows: ([r["gold"] for r in rows], [r["probs"] for r in rows]))


def save_decision(run_dir: Path, rule: Sequence[float], kind: str = "bias") -> None:
    """The decision rule: per-class ``bias`` (single-label) or ``thresholds`` (multi-label)."""
    atomic_write_text(run_dir / DECISION, json.dumps({kind: list(rule)}))


def load_decision(run_dir: Path, n_classes: int) -> tuple[float, ...] | None:
    """The run's tuned decision rule (a bias or a threshold per class), or None when it has none."""
    path = run_dir / DECISION
    if not path.is_file():
        return None
    kind, rule = read_json(path, "decision rule", _decision_rule)
    if len(rule) != n_classes:
        raise SentinetError(f"{path}: {len(rule)} {'biases' if kind == 'bias' else kind} for the run's "
                            f"{n_classes} classes")
    if kind == "thresholds" and not all(0 < t <= 1 for t in rule):
        raise SentinetError(f"{path}: thresholds must be probabilities in (0, 1]")
    return rule


def _decision_rule(data: dict) -> tuple[str, tuple[float, ...]]:
    kind = "thresholds" if "thresholds" in data else "bias"
    return kind, tuple(float(b) for b in data[kind])


def write_group_plan(group: Path, kind: str, count: int) -> None:
    atomic_write_text(group / GROUP, json.dumps({"kind": kind, "count": count}))


def read_group_plan(group: Path) -> tuple[str, int]:
    """(kind, count) of a group directory: "seeds" or "folds", and how many members."""
    path = group / GROUP
    kind, count = read_json(path, "group plan", lambda plan: (plan["kind"], plan["count"]))
    if kind not in ("seeds", "folds"):
        raise SentinetError(f"{path}: unknown group kind {str(kind)[:40]!r}")
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= 10_000:
        raise SentinetError(f"{path}: count {str(count)[:40]!r} is not a number of members (2 or more)")
    return kind, count


def is_group(path: Path) -> bool:
    return (Path(path) / GROUP).is_file()


# --------------------------------------------------------------------------------------
# INCOMPLETE: complete, or saying it is not


def mark(run_dir: Path, status: str) -> None:
    """``status`` is the line readers show."""
    atomic_write_text(run_dir / NOTE, f"{status}\n{hint(run_dir)}\n")


def clear(run_dir: Path) -> None:
    (run_dir / NOTE).unlink(missing_ok=True)


def status(run_dir: Path) -> str | None:
    """Why ``run_dir`` has not finished (its note's first line), or None when it has."""
    path = run_dir / NOTE
    if not os.path.lexists(path):
        return None
    try:
        text = read_own_bytes(path, NOTE_LIMIT).decode("utf-8", errors="replace")
    except SentinetError:  # a note that is a FIFO or a megabyte still says "not finished"
        text = ""
    return (text.splitlines() or [""])[0].strip() or "no status"


def hint(run_dir: Path) -> str:
    """How to go on; a member of a --seeds/--folds group goes on with its group."""
    target = run_dir.parent if is_group(run_dir.parent) else run_dir
    return f"continue with: sentinet train --resume {target}"


def message(run_dir: Path, why: str) -> str:
    return f"{run_dir}: incomplete run ({why}); {hint(run_dir)}"


def warn(run_dir: Path) -> bool:
    """A run cut short still serves its best epoch so far, but the user should know."""
    why = status(run_dir)
    if why is not None:
        print(f"warning: {printable(message(run_dir, why))}", file=sys.stderr)  # the note may hold anything
    return why is not None


def require_done(run_dir: Path) -> None:
    why = status(run_dir)
    if why is not None:
        raise SentinetError(message(run_dir, why))
