"""``sentinet ensemble RUN... -o DIR [--weights W1,W2,...]``: one ensemble of runs trained apart
(other encoders, other vectors, other configs, a ``sentinet baseline``) that ``eval``,
``predict``, ``serve`` and ``export`` take like a single run: they average the members'
probabilities, as for a ``--seeds`` group, or weigh them (``--weights``).

Everything is read from the run directories (no torch, no weights loaded). Each RUN is a
finished run or an ensemble directory (a ``--seeds``/``--folds`` group, an earlier ``sentinet
ensemble``), whose members are taken in one by one. A ``sentinet baseline`` run is a member
like any other (its TF-IDF + logistic regression averaged with the networks: users measured
that a neural run and its baseline at 0.5 each beat both). Members must be complete runs
predicting one label set in one order; a run counts once.

``--weights`` gives one positive number per RUN, in the order given; they are normalised to sum
1 and kept in ensemble.json (``"weights"``, one per member). A RUN that is an ensemble shares
its weight among its members as that ensemble weighs them: equally for a ``--seeds``/``--folds``
group, by its own weights for an earlier weighted ``sentinet ensemble``. Without ``--weights``
each member counts equally (an earlier weighted ensemble given as a RUN keeps its members'
ratio, with its members' count as its weight); when every member then weighs the same,
ensemble.json holds no weights, exactly the file earlier releases wrote and read.

When every member kept the dev predictions of the same dev records (``dev_predictions.json``;
matched by id when their order differs, as runs of one ``data`` section trained apart have),
the averaged ensemble (weighted as predict weighs it) is scored on them with the metric and
plain-argmax decision that ``eval`` applies to it; otherwise it is written unscored, and the
log says why.

DIR, new or an empty folder (temp files that a killed writer left count as nothing and are
removed), gets ``metrics.json``, ``train.log`` and, last, ``ensemble.json`` (the members,
relative to DIR), each written atomically: DIR is an ensemble only once that last rename is
done, and any failure removes what was written (and DIR, when this made it).
The members stay where they are: move DIR and them together.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentinet.runs import rundir
from sentinet.runs.archive import is_archive
from sentinet.config.schema import read_yaml
from sentinet.evaluation.decision import decide, tune_thresholds
from sentinet.errors import SentinetError
from sentinet.fileio import atomic_write_text, dead_partial
from sentinet.labels import LabelSet
from sentinet.evaluation.metrics import full_report, headline, summarise

RUN_FILES = (rundir.CONFIG, rundir.VOCAB, rundir.WEIGHTS, rundir.METRICS)
BASELINE_FILES = (rundir.CONFIG, rundir.BASELINE_JSON, rundir.BASELINE_NPZ, rundir.METRICS)
BASELINE_ENCODER = "tf-idf + logreg"  # what a baseline member shows for its encoder
COLUMNS = ("text_column", "label_column", "id_column", "quoting")  # what eval/predict read with


@dataclass
class Member:
    path: Path  # the run directory, resolved
    encoder: str  # a baseline's: BASELINE_ENCODER
    vectors: str | None  # the vectors file's name (or "?"); None: a baseline reads none
    labels: LabelSet
    best: dict  # the best epoch's dev scores (metrics.json)
    seconds: float
    columns: dict
    tuned: bool  # it has a decision.json, which the ensemble does not apply
    weight: float = 1.0  # its share of the averaged probabilities (all add up to 1 once gathered)


@dataclass
class MixedResult:
    path: Path
    members: list[Member]
    summary: dict  # what metrics.json holds
    notes: list[str]  # what the user should know: unscored dev, unused decision biases
    weighted: bool = False  # ensemble.json holds weights (the members' ``weight``)


def combine_runs(runs: Sequence[Path], out: Path, weights: Sequence[float] | None = None) -> MixedResult:
    """Check ``runs``, ``weights`` (one per RUN; None: equal) and ``out``, score the averaged
    ensemble on the members' shared dev records when they have them, and write the ensemble
    directory ``out``."""
    out = Path(out)
    given = None if weights is None else _check_weights(weights, len(runs))
    _check_target(out)
    members, weighted = _gather([Path(r) for r in runs], given)
    _check_members(members, [Path(r) for r in runs], out)
    summary, notes, log = _summarize(members, weighted)
    _write(out, members, summary, log, weighted)
    return MixedResult(Path(os.path.abspath(out)), members, summary, notes, weighted)


def parse_weights(text: str) -> list[float]:
    """``--weights 0.7,0.3``: the numbers (``combine_runs`` checks their count and sign)."""
    numbers = []
    for part in text.split(","):
        try:
            numbers.append(float(part))
        except ValueError:
            raise SentinetError(f"--weights: {part.strip()[:40]!r} is not a number "
                                "(give one positive number per RUN, e.g. --weights 0.7,0.3)") from None
    return numbers


def _check_weights(weights: Sequence[float], count: int) -> list[float]:
    """One positive finite number per RUN, or a one-line refusal naming the first bad one."""
    weights = list(weights)
    if len(weights) != count:
        raise SentinetError(f"--weights: {len(weights)} weight{'s' * (len(weights) != 1)} for {count} RUNs "
                            "(one positive number per RUN, in the order given)")
    for w in weights:
        if not rundir.positive_number(w):
            shown = f"{w:g}" if _is_number(w) else str(w)[:40]
            raise SentinetError(f"--weights: {shown} is not a positive number (one positive number "
                                "per RUN, e.g. --weights 0.7,0.3)")
    return weights


# --------------------------------------------------------------------------------------
# The members


def _gather(runs: list[Path], weights: list[float] | None) -> tuple[list[Member], bool]:
    """The members, each with its normalised weight, and whether they are weighted (weights
    given, or members that end up weighing differently: ensemble.json keeps them then)."""
    members: list[Member] = []
    given: dict[Path, Path] = {}
    for n, run in enumerate(runs):
        found = _run_dirs(run, ())
        weight = len(found) if weights is None else weights[n]  # unweighted: each member counts 1
        for path, share in found:
            if path in given:
                raise SentinetError(f"{path}: given twice (as {given[path]} and as {run}); "
                                    "an ensemble counts each run once")
            given[path] = run
            members.append(_read_member(path))
            members[-1].weight = weight * share
    if len(members) < 2:
        raise SentinetError(f"an ensemble needs at least 2 runs; {', '.join(map(str, runs))} "
                            f"holds {len(members)}")
    raw = [m.weight for m in members]
    weighted = weights is not None or not all(math.isclose(w, raw[0], rel_tol=1e-9) for w in raw)
    shares = rundir.check_weights(raw, len(raw)) if weighted else [1 / len(raw)] * len(raw)
    for m, share in zip(members, shares):
        m.weight = share
    return members, weighted


def _run_dirs(path: Path, within: tuple[Path, ...]) -> list[tuple[Path, float]]:
    """The run directories ``path`` stands for, each with its share of ``path``'s weight (they
    add up to 1): itself, or an ensemble's members (of members), as that ensemble weighs them."""
    of = f" (a member of {within[-1]})" if within else ""
    if not os.path.lexists(path):
        raise SentinetError(f"{path}: no such run directory{of}")
    if path.is_file() and path.name == rundir.WEIGHTS:  # a run's model.pt stands for the run
        path = path.parent
    elif is_archive(path):
        raise SentinetError(f"{path}: an export archive; give the run or ensemble directory "
                            "it was exported from")
    elif not path.is_dir():
        raise SentinetError(f"{path}: not a run directory{of}")
    if not (path / rundir.ENSEMBLE).is_file():
        return [(path.resolve(), 1.0)]
    if path.resolve() in within:
        raise SentinetError(f"{path / rundir.ENSEMBLE}: the ensemble lists itself among its members")
    rundir.require_done(path)
    chain = (*within, path.resolve())
    listed = rundir.members(path)
    shares = rundir.member_weights(path) or [1 / len(listed)] * len(listed)
    return [(run, share * inner) for member, share in zip(listed, shares) for run, inner in _run_dirs(member, chain)]


def _read_member(path: Path) -> Member:
    """A finished run (or baseline run) as the ensemble needs it, from its config.yaml and
    metrics.json."""
    rundir.require_done(path)
    baseline = (path / rundir.BASELINE_JSON).is_file()
    missing = [name for name in (BASELINE_FILES if baseline else RUN_FILES) if not (path / name).is_file()]
    if missing:
        raise SentinetError(f"{path}: not a sentinet {'baseline ' * baseline}run (missing {', '.join(missing)})")
    config = read_yaml(path / rundir.CONFIG)
    try:
        data = config["data"]
        name, vectors = (BASELINE_ENCODER, None) if baseline else _encoder(config)
        labels = LabelSet.of(data.get("labels"), (config.get("model") or {}).get("head") == "multilabel")
        columns = {key: data.get(key) for key in COLUMNS}
    except (KeyError, TypeError, AttributeError) as exc:
        raise SentinetError(f"{path / rundir.CONFIG}: not a run's config (no {exc})") from None
    except SentinetError as exc:
        raise SentinetError(f"{path / rundir.CONFIG}: {exc}") from None
    metrics = rundir.read_metrics(path)
    best = metrics.get("best")
    if not isinstance(best, dict) or not _is_number(best.get("score", best.get("f_macro"))):
        raise SentinetError(f"{path / rundir.METRICS}: unreadable metrics (no best dev scores)")
    seconds = metrics.get("seconds")
    return Member(path, str(name), vectors, labels, best, float(seconds) if _is_number(seconds) else 0.0,
                  columns, (path / rundir.DECISION).is_file())


def _encoder(config: dict) -> tuple[str, str]:
    """A neural run's encoder name and vectors file name (a baseline's config names the neural
    model it was fitted beside: never read for one)."""
    encoder = config["model"]["encoder"]
    name = encoder["name"] if isinstance(encoder, dict) else encoder
    return name, Path(str((config.get("vectors") or {}).get("path") or "?")).name


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_target(out: Path) -> None:
    """DIR must be new or an empty folder: an ensemble never writes into an existing run.
    The temp files a killed writer left (``kill -9`` mid-ensemble) do not count, and are
    removed: otherwise the same command would refuse that folder forever."""
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise SentinetError(f"{out}: exists and is not a directory; give a new directory for the ensemble")
    with os.scandir(out) as scan:
        entries = list(scan)
    leftovers = [entry for entry in entries if dead_partial(entry)]
    if len(leftovers) < len(entries):
        raise SentinetError(f"{out}: exists and is not empty; the ensemble goes into a new "
                            "(or empty) directory, never over an existing run")
    for entry in leftovers:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)


def _check_members(members: list[Member], runs: list[Path], out: Path) -> None:
    first = members[0]
    for m in members[1:]:
        if m.labels != first.labels:
            raise SentinetError(f"{m.path}: labels {list(m.labels.values)}, not {list(first.labels.values)} "
                                f"as {first.path}: members must share one label set, in one order")
    target = Path(os.path.realpath(out))
    for run in [*(r.resolve() for r in runs if r.is_dir()), *(m.path for m in members)]:
        if target.is_relative_to(run):
            raise SentinetError(f"{out}: inside the run {run}; write the ensemble elsewhere")


# --------------------------------------------------------------------------------------
# Scores


def _summarize(members: list[Member], weighted: bool = False) -> tuple[dict, list[str], list[str]]:
    """metrics.json, the notes for the user, and the log; ``weighted``: members weigh apart,
    and both say how."""
    classes = members[0].labels
    dev = _shared_dev(members, weighted)
    notes: list[str] = []
    tuned = [m for m in members if m.tuned]
    if tuned and classes.multilabel:  # every multi-label run has its thresholds
        notes.append(f"the members' per-class thresholds ({rundir.DECISION}) do not carry over to their "
                     "average: the ensemble " + ("decides at 0.5 for every class" if isinstance(dev, str)
                                                 else "chooses its own on the members' dev records"))
    elif tuned:
        notes.append(f"{len(tuned)} of {len(members)} members tuned a decision bias ({rundir.DECISION}); "
                     "the ensemble decides by plain argmax of the averaged probabilities")
    if any(m.columns != members[0].columns for m in members):
        notes.append(f"members read data with different columns or quoting; eval and predict use "
                     f"{members[0].path}'s ({', '.join(f'{k}={v}' for k, v in members[0].columns.items())})")
    report = None
    if isinstance(dev, str):
        notes.append(f"the ensemble is not scored on dev: {dev}")
        dev_info = {"records": None, "note": dev}
    else:

        gold, probs, matched = dev
        thresholds = tune_thresholds(probs, gold, classes) if classes.multilabel else None
        report = full_report(gold, decide(probs, classes, thresholds), classes, _shared_metric(members))
        dev_info = {"records": len(gold), "matched": matched}
    summary = {
        "kind": "mixed",
        "members": [str(m.path) for m in members],
        "member_scores": [{"run": str(m.path), "encoder": m.encoder, "vectors": m.vectors,
                           **{k: v for k, v in m.best.items() if _is_number(v) or k == "metric"}}
                          for m in members],
        **summarise([m.best for m in members]),
        "seconds": sum(m.seconds for m in members),
        "dev": dev_info,
        "ensemble": None if report is None else {k: v for k, v in report.items() if k != "report"},
        "labels": list(classes.values),
        "decision_bias": None,
        **({"multilabel": True, "thresholds": None if report is None else list(thresholds)}
           if classes.multilabel else {}),
        **({"weights": [m.weight for m in members]} if weighted else {}),
    }
    log = [f"member {m.path}: {_described(m, weighted)}, dev {headline(m.best)}" for m in members]
    log.append(f"{len(members)} members: dev {headline(summary)}")
    log += [f"note: {n}" for n in notes]
    if report is not None:
        how = "weighted average of probabilities" if weighted else "averaged probabilities"
        log.append(f"ensemble ({how}) on the members' {len(dev[0])} dev records: "
                   f"dev {headline(report)}\n{report['report']}")
    return summary, notes, log


def _described(member: Member, weighted: bool) -> str:
    """train.log's words for a member: its encoder, its vectors, its weight when they differ."""
    over = f" over {member.vectors}" if member.vectors is not None else " (no word vectors)"
    return f"{member.encoder}{over}" + (f", weight {member.weight:.4g}" if weighted else "")


def _shared_metric(members: list[Member]) -> str:
    """The members' own selecting metric when they agree (older runs: auto), else auto."""
    found = {m.best.get("metric") if "score" in m.best else "auto" for m in members}
    return found.pop() if len(found) == 1 else "auto"


def _shared_dev(members: list[Member], weighted: bool = False) -> tuple[list[dict], np.ndarray, str] | str:
    """(gold, averaged probabilities, how rows were matched) over the dev records every member
    was scored on, in the first member's order (``weighted``: by the members' weights, as
    predict averages them); or why there are none."""
    rows = []
    for m in members:
        if not (m.path / rundir.DEV).is_file():
            return f"{m.path} has no {rundir.DEV}"
        rows.append(_dev_rows(m))
    ids, gold, _ = rows[0]
    if not ids:
        return f"{members[0].path} has no dev records"
    aligned, matched = [], "in order"
    for m, (other_ids, other_gold, probs) in zip(members, rows):
        if other_ids != ids:
            index = {i: n for n, i in enumerate(other_ids)}
            if len(index) != len(other_ids) or len(other_ids) != len(ids) or set(index) != set(ids):
                return f"{m.path} was scored on other dev records than {members[0].path}"
            order = [index[i] for i in ids]
            other_gold, probs, matched = [other_gold[n] for n in order], probs[order], "by id"
        if other_gold != gold:
            return f"{m.path}'s dev records carry other gold labels than {members[0].path}'s"
        aligned.append(probs)
    if weighted:
        return gold, np.average(aligned, axis=0, weights=[m.weight for m in members]), matched
    return gold, np.mean(aligned, axis=0), matched


def _dev_rows(member: Member) -> tuple[list, list[dict], np.ndarray]:
    """(ids, gold, probabilities) of a member's dev_predictions.json, checked."""
    width = len(member.labels)

    def pick(rows: list[dict]) -> tuple[list, list[dict], np.ndarray]:
        ids, gold = [r["id"] for r in rows], [dict(r["gold"]) for r in rows]
        if not all(isinstance(i, (str, int)) for i in ids):
            raise TypeError("a record id is neither text nor a number")
        probs = np.asarray([r["probs"] for r in rows], dtype=np.float64).reshape(len(rows), -1)
        if probs.shape[1] != width and rows:
            raise ValueError(f"{probs.shape[1]} probabilities per record for {width} classes")
        return ids, gold, probs

    return rundir.read_json(member.path / rundir.DEV, "dev predictions", pick)


# --------------------------------------------------------------------------------------
# Writing


def _write(out: Path, members: list[Member], summary: dict, log: list[str], weighted: bool = False) -> None:
    """metrics.json and train.log, then ensemble.json: the rename that makes DIR an ensemble.
    Any failure (Ctrl-C included) removes what was written, and DIR when this made it."""
    made = _make_dir(out)
    home = os.path.realpath(out)
    try:
        rundir.write_metrics(out, summary)
        atomic_write_text(out / rundir.LOG, "\n".join(log) + "\n")
        if summary.get("thresholds"):  # a multi-label ensemble's own, chosen on the shared dev
            rundir.save_decision(out, summary["thresholds"], "thresholds")
        rundir.write_members(out, [os.path.relpath(m.path, home) for m in members],
                             [m.weight for m in members] if weighted else None)
    except BaseException:
        for name in (rundir.ENSEMBLE, rundir.DECISION, rundir.LOG, rundir.METRICS):
            with contextlib.suppress(OSError):
                (out / name).unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty
        raise


def _make_dir(out: Path) -> list[Path]:
    """Create DIR (and missing parents) unless it is the empty folder already checked;
    returns the folders made, outermost first."""
    if out.is_dir():
        return []
    made = [p for p in (out, *out.parents) if not os.path.lexists(p)][::-1]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.mkdir()
    except FileExistsError:
        raise SentinetError(f"{out}: appeared while the ensemble was being made; left as it is") from None
    except OSError as exc:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise SentinetError(f"{out}: cannot create the ensemble directory ({exc.strerror or exc})") from None
    return made
