"""``sentinet report RUN...``: runs side by side — what their configs changed, how they scored,
how long they took — read from the run directories alone."""

from __future__ import annotations

import json
from pathlib import Path

from sentinet.runs import rundir
from sentinet.evaluation import tables
from sentinet.errors import SentinetError
from sentinet.fileio import check_regular_file
from sentinet.evaluation.metrics import headline
from sentinet.config.yamlfile import read_yaml

IGNORED = ("run.name", "run.output_dir")  # differ between any two runs and say nothing


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def describe_run(run_dir: Path) -> dict:
    """Config (flattened) and headline scores of a run or an ensemble directory, read by the
    same strict readers as predict's: a damaged or hostile file is one line naming it."""
    metrics_path = run_dir / rundir.METRICS
    status = rundir.status(run_dir)
    if status is not None and not metrics_path.is_file():
        raise SentinetError(rundir.message(run_dir, f"{status}; no epoch saved yet"))
    check_regular_file(metrics_path)  # a FIFO or a link to /dev/zero is named as such, never read
    if not metrics_path.is_file():
        raise SentinetError(f"{run_dir}: not a finished sentinet run (no {rundir.METRICS} file)")
    metrics = rundir.read_metrics(run_dir)
    if status is not None:
        rundir.warn(run_dir)
        if (run_dir / rundir.WEIGHTS).is_file():  # a killed run's metrics.json may lag model.pt
            from sentinet.runs.weights import load_record  # torch: only for such a run

            metrics.update(load_record(run_dir / rundir.WEIGHTS))
    ensemble = (run_dir / rundir.ENSEMBLE).is_file()
    config_dir = rundir.members(run_dir)[0] if ensemble else run_dir
    try:
        scores = _scores(metrics, ensemble, status)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SentinetError(f"{metrics_path}: unreadable metrics ({type(exc).__name__}: {exc})") from None
    config = read_yaml(config_dir / rundir.CONFIG)
    return {"name": run_dir.name, "config": flatten(config), "scores": scores}


def _scores(metrics: dict, ensemble: bool, status: str | None) -> dict[str, str]:
    """The report's score rows from metrics.json; a field of the wrong type raises."""
    if ensemble:
        scores = {"dev": headline(metrics),
                  # a mixed ensemble of runs scored on different dev data has no ensemble score
                  "ensemble dev": headline(metrics["ensemble"]) if metrics.get("ensemble") else "—",
                  "members": str(len(metrics["members"]))}
    elif metrics.get("kind") == "baseline":  # sentinet baseline: no epochs
        best = metrics.get("best", {})
        scores = {"dev": headline(best) or "—", "best epoch": "-", "baseline": f"tf-idf + logistic regression, C {metrics.get('C')}"}
    else:
        best, best_epoch = metrics.get("best", {}), metrics.get("best_epoch")
        epochs = max(len(metrics.get("epochs", [])), best_epoch or 0)  # model.pt may be an epoch ahead
        scores = {"dev": headline(best) or "—", "best epoch": f"{best_epoch} of {epochs}"}
        if metrics.get("hybrid"):
            scores.update(_hybrid_rows(metrics["hybrid"]))
    scores["time (s)"] = f"{metrics.get('seconds', 0):.0f}"
    if status is not None:
        scores["time (s)"] += " (incomplete)"
    elif metrics.get("interrupted"):
        scores["time (s)"] += " (interrupted)"
    return scores


def _hybrid_rows(hybrid: dict) -> dict[str, str]:
    """A hybrid run's parts side by side: each alone on dev, then the blend at every share of
    the network that was tried (the chosen one is the run's "dev" row)."""
    rows = {"hybrid: neural alone": f"{hybrid['neural']:.4f}",
            "hybrid: linear alone": f"{hybrid['linear']:.4f} (C {hybrid['C']:g})"}
    for row in hybrid["grid"]:
        chosen = " (chosen)" if row["neural_weight"] == hybrid["neural_weight"] else ""
        rows[f"hybrid: blend, network {row['neural_weight']:g}"] = f"{row['score']:.4f}{chosen}"
    return rows


def select_runs(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The run and ensemble directories among ``paths`` (``report runs/*`` meets study
    folders, logs and stray files too), and a note for each path left out. One path given
    alone must be a run; a missing path is always an error."""
    runs, notes = [], []
    for path in paths:
        if not path.exists():
            raise SentinetError(f"{path}: no such run directory")
        why = _not_a_run(path)
        if why is None:
            runs.append(path)
        elif len(paths) == 1:
            raise SentinetError(f"{path}: {why}")
        else:
            notes.append(f"{path}: {why}; left out")
    if not runs:
        raise SentinetError(f"no run directories among the {len(paths)} paths given")
    return runs, notes


def _not_a_run(path: Path) -> str | None:
    """Why ``path`` is not a run, ensemble or baseline directory (None when it is one)."""
    if not path.is_dir():
        return "a file, not a run directory"
    if (path / rundir.METRICS).is_file() or (path / rundir.CONFIG).is_file() or rundir.status(path):
        return None
    if (path / "trials.md").is_file() or (path / "study.db").is_file():
        return f"a tune study, not a run (its trials are in {path / 'trials.md'})"
    return "not a sentinet run directory (no metrics.json or config.yaml)"


def compare(run_dirs: list[Path]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per differing config key, then one per score."""
    runs = [describe_run(Path(d)) for d in run_dirs]
    keys = sorted({k for r in runs for k in r["config"]} - set(IGNORED))
    differing = [k for k in keys if len({_comparable(r["config"].get(k)) for r in runs}) > 1]
    rows = [[k, *(_cell(r["config"].get(k, "—")) for r in runs)] for k in differing]
    score_keys = list(dict.fromkeys(k for r in runs for k in r["scores"]))
    rows += [[k, *(r["scores"].get(k, "—") for r in runs)] for k in score_keys]
    return ["", *(r["name"] for r in runs)], rows


def _comparable(value: object) -> str:
    """``value`` as text that is equal for equal values; YAML also gives dates and keys of
    mixed types, which JSON neither writes nor sorts."""
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.12g}"  # 0.3, not the 0.30000000000000004 a stepped search may store
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def render(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        return tables.markdown_table(header, rows) + "\n"
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    fmt = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), *(fmt(r) for r in rows)]) + "\n"
