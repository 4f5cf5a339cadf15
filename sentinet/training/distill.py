"""``sentinet distill ENSEMBLE -o RUN``: one run trained on an ensemble's probabilities (soft
targets, sentinet.training.teacher) instead of the gold labels, so that one model does the
ensemble's work about as well at a fraction of its cost (5 members predict 5 times slower).

The student is an ordinary run: its config is the ensemble's first member's (data, split,
model and all; or ``config``), with ``train.distill`` naming the ensemble, so it trains on
the same training texts and selects its best epoch on the same gold dev split as the members,
and its dev score is comparable to the ensemble's; ``--resume`` continues it like any run.
Everything is checked before torch is imported, and, like ``train --run-dir``, nothing is left
behind by a failure before the first epoch ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sentinet.errors import SentinetError
from sentinet.runs import rundir
from sentinet.training.teacher import check_teacher, comparison, ensemble_score
from sentinet.training.workflows import ConfigSource, config_of, plan_training

if TYPE_CHECKING:  # the loop imports torch, which only the training itself may
    from sentinet.training.loop import TrainResult


@dataclass
class Distilled:
    """What ``distill`` made: the student run and what it is compared with."""

    path: Path  # the student's run directory (eval, predict, export take it like any run)
    result: TrainResult
    ensemble: Path

    @property
    def best(self) -> dict:
        """The student's dev scores."""
        return self.result.best

    @property
    def ensemble_dev(self) -> dict | None:
        """The ensemble's dev scores from its metrics.json (None: it was not scored on dev)."""
        return self.result.distilled["ensemble_dev"]

    @property
    def ensemble_score(self) -> float | None:
        """The ensemble's dev score by the student's selecting metric (None: not scored by it)."""
        return ensemble_score(self.result.best, self.result.distilled)

    @property
    def comparison(self) -> str:
        """"dev F-macro: distilled 0.6012 vs ensemble 0.6240 (-0.0228), distilled from DIR"."""
        return comparison(self.result.best, self.result.distilled)


def distill(ensemble: str | Path, output: str | Path, config: ConfigSource | None = None,
            overrides: Sequence[str] = (), *, unlabeled: Sequence[str | Path] = (),
            temperature: float | None = None, device: str | None = None, threads: int | None = None,
            on_note: Callable[[str], None] | None = None) -> Distilled:
    """Train one run on ``ensemble``'s probabilities into ``output`` (a new or empty folder).
    ``config`` (default: the first member's config.yaml) with ``overrides`` (``a.b=value``, as
    ``--set``) says the rest; ``unlabeled``: files of more texts for the ensemble to label;
    ``temperature``: softens both distributions (train.distill.temperature). ``on_note``:
    what the user should hear before training. Bad input is a SentinetError, nothing written."""
    teacher = check_teacher(Path(ensemble).expanduser())
    out = _check_output(Path(output).expanduser(), teacher)
    cfg = config_of(config if config is not None else _first_member_config(teacher), overrides)
    cfg.train.distill.teacher = str(teacher)
    cfg.train.distill.unlabeled = [*cfg.train.distill.unlabeled, *map(_unlabelled_file, unlabeled)]
    if temperature is not None:
        cfg.train.distill.temperature = _temperature(temperature)
    if cfg.train.baseline and on_note is not None:
        on_note("train.baseline is not fitted for a distilled run: the ensemble is what it is compared with")
    plan = plan_training(cfg, device=device, threads=threads, run_dir=out)  # checks paths, no torch
    from sentinet.training.loop import train

    result = train(plan.config, into=plan.run_dir)
    return Distilled(result.run_dir, result, teacher)


def _first_member_config(teacher: Path) -> Path:
    """The config.yaml of the ensemble's first neural member (a sentinet baseline member's
    config names no network)."""
    from sentinet.baseline import is_baseline

    for member in rundir.members(teacher):
        if not is_baseline(member):
            path = member / rundir.CONFIG
            if not path.is_file():
                raise SentinetError(f"{member}: a member of {teacher} without its {rundir.CONFIG}; give --config")
            return path
    raise SentinetError(f"{teacher}: every member is a sentinet baseline run; give the student's --config")


def _check_output(out: Path, teacher: Path) -> Path:
    """A new or empty folder outside the ensemble and its members (inside a --seeds group a
    run would pass for one of its members)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SentinetError(f"-o {out}: not a folder; name a new or empty folder for the distilled run")
    if out.is_dir() and any(out.iterdir()):
        raise SentinetError(f"-o {out}: not empty; name a new or empty folder for the distilled run")
    target = Path(os.path.realpath(out))
    for run in [teacher, *rundir.members(teacher)]:
        if target.is_relative_to(run):
            raise SentinetError(f"-o {out}: inside {run}; write the distilled run elsewhere")
    return out.absolute()


def _unlabelled_file(path: str | Path) -> str:
    """An --unlabelled file, relative to the working directory (a config's relative paths are
    looked up in the data folders instead), made absolute."""
    from sentinet.data.readers import detect_data_format

    found = Path(path).expanduser()
    if not found.is_file():
        what = "not a file" if found.exists() else "no such file"
        raise SentinetError(f"--unlabelled {path}: {what}")
    if found.stat().st_size == 0:
        raise SentinetError(f"--unlabelled {path}: an empty file; give texts, one per line (.txt) or as "
                            "TSV/CSV/JSON Lines/SentiRuEval XML")
    try:
        detect_data_format(found)
    except SentinetError:
        raise SentinetError(f"--unlabelled {path}: cannot tell its format from its name; name it .txt (one "
                            "text per line), .tsv, .csv, .jsonl or .xml") from None
    return str(found.resolve())


def _temperature(value: float) -> float:
    if not rundir.positive_number(value) or value > 100:
        raise SentinetError(f"--temperature {value}: must be above 0 and at most 100 "
                            "(1: the ensemble's probabilities as they are; 2 to 5 soften them)")
    return float(value)

