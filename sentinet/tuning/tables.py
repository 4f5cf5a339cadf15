"""A study's trials as tables and series (``trials.md``, ``trials.csv``, best-so-far
curves): plain functions of Optuna's frozen trials, with no torch and no training."""

from __future__ import annotations

import csv
import io
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from sentinet.evaluation import tables
from sentinet.evaluation.metrics import KEYS, NAMES


def scores(trials: list[FrozenTrial]) -> list[tuple[int, float | None]]:
    """(number, dev score) of every finished trial, in order; None for a pruned or failed one."""
    return [(t.number, t.value if t.state == TrialState.COMPLETE else None)
            for t in sorted(trials, key=lambda t: t.number) if t.state.is_finished()]


def study_metric(trials: list[FrozenTrial], base: dict) -> str:
    """The train.metric the trials are scored by: as a trained trial resolved it (auto:
    sentirueval for SentiRuEval labels, else macro_f1), else the base config's."""
    for t in trials:
        if t.user_attrs.get("metric"):
            return t.user_attrs["metric"]
    train = base.get("train")
    return train.get("metric", "auto") if isinstance(train, dict) else "auto"


def score_name(metric: str | None, folds: int = 0) -> str:
    """"dev F-macro", "mean dev weighted-F1 over 5 folds": a train.metric named as train's log
    names it ("dev score" for auto before a trial has resolved it by the labels)."""
    name = NAMES.get(KEYS.get(metric or "", ""), "score")
    return f"mean dev {name} over {folds} folds" if folds else f"dev {name}"


def short_keys(keys: list[str]) -> dict[str, str]:
    """Each dotted key by its shortest last part no other key ends with: train.optimizer.lr
    → lr, model.encoder.dropout → encoder.dropout beside model.dropout."""
    short = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            name = ".".join(parts[-n:])
            if sum(k == name or k.endswith("." + name) for k in keys) == 1:
                break
        short[key] = name
    return short


def trial_rows(trials: list[FrozenTrial], keys: list[str]) -> list[dict]:
    """One row per trial, the complete ones best first; a column per parameter (this space's,
    then any other). A pruned trial's score is its last reported one."""
    keys = keys + sorted({k for t in trials for k in t.params} - set(keys))
    ranked = sorted(trials, key=lambda t: (t.state != TrialState.COMPLETE,
                                           -t.value if t.state == TrialState.COMPLETE else 0.0, t.number))
    return [{"trial": t.number, "state": t.state.name.lower(), "score": t.value,
             "seconds": round(trial_seconds(t), 1), **{k: t.params.get(k) for k in keys},
             "note": trial_note(t), "run_dir": t.user_attrs.get("run_dir", "")} for t in ranked]


def markdown_table(rows: list[dict], score: str = "score") -> str:
    """The rows without run directories, the score column headed by its name (``score_name``)."""
    if not rows:
        return "(no trials yet)"
    columns = [c for c in rows[0] if c != "run_dir"]
    header = [score if c == "score" else c for c in columns]
    return tables.markdown_table(header, [[cell(row[c]) for c in columns] for row in rows])


def csv_table(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def trial_note(trial: FrozenTrial) -> str:
    attrs = trial.user_attrs
    return attrs.get("error") or attrs.get("pruned") or ""


def trial_seconds(trial: FrozenTrial) -> float:
    if "seconds" in trial.user_attrs:
        return float(trial.user_attrs["seconds"])
    return trial.duration.total_seconds() if trial.duration else 0.0
