"""Everything ``sentinet train`` does, as one library call that ``sentinet.train`` and the CLI
share: a plain run, ``seeds`` and ``folds`` groups (sentinet.training.groups), ``resume`` of a
run or group directory, a ``dry_run``; and, with ``train.baseline``, the linear baseline fitted
after a run (or a seed ensemble) for comparison.

``plan_training`` checks the arguments, the config and its data and vector paths without
importing torch or writing anything, so a typo is said at once; ``run_plan`` trains.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sentinet.config.fields import whole_number
from sentinet.config.paths import resolve_paths
from sentinet.config.schema import Config, check_folds, from_dict, load_config
from sentinet.errors import SentinetError

if TYPE_CHECKING:  # for type hints only: groups and loop import torch, which only run_plan may
    from sentinet.baseline import Baseline
    from sentinet.training.groups import EnsembleResult
    from sentinet.training.loop import TrainResult

ConfigSource = str | Path | Config | dict


@dataclass
class TrainPlan:
    """What ``run_plan`` will do, every input checked and nothing written yet."""

    config: Config | None  # paths resolved; None when resuming a group (it reads its own)
    seeds: int = 1
    folds: int = 0
    resume: Path | None = None
    group: bool = False  # resume names a --seeds/--folds group directory
    device: str | None = None  # a resumed group's --device
    dry_run: bool = False
    run_dir: Path | None = None  # --run-dir: this new or empty folder instead of a timestamped one
    notes: list[str] = field(default_factory=list)  # what the user should hear before training


@dataclass
class BaselineComparison:
    """``train.baseline``: the baseline fitted on the run's own config, and the neural score it meets."""

    run_dir: Path  # the baseline run written beside the neural one
    fitted: Baseline
    neural: float  # the neural run's (or seed ensemble's) dev score
    what: str  # "neural" or "neural (N-seed ensemble)"

    @property
    def score(self) -> float:
        from sentinet.evaluation.metrics import score_of

        return score_of(self.fitted.report)


@dataclass
class Trained:
    """What ``train_workflow`` did. ``result``: a ``TrainResult`` for one run (a resumed one
    too), an ``EnsembleResult`` for a seeds or folds group, None after a dry run."""

    result: TrainResult | EnsembleResult | None
    baseline: BaselineComparison | None = None


def train_workflow(config: ConfigSource | None = None, overrides: Sequence[str] = (), *,
                   seeds: int | None = None, folds: int | None = None, resume: str | Path | None = None,
                   dry_run: bool = False, output_dir: str | Path | None = None, device: str | None = None,
                   threads: int | None = None, run_dir: str | Path | None = None,
                   on_note: Callable[[str], None] | None = None) -> Trained:
    """``sentinet train`` as a call: see ``plan_training`` for the arguments. Notes (e.g. that
    ``train.baseline`` is not fitted with folds) go to ``on_note`` before training starts
    (default: a Python warning)."""
    plan = plan_training(config, overrides, seeds=seeds, folds=folds, resume=resume, dry_run=dry_run,
                         output_dir=output_dir, device=device, threads=threads, run_dir=run_dir)
    for note in plan.notes:
        if on_note is None:
            warnings.warn(note, stacklevel=2)
        else:
            on_note(note)
    return run_plan(plan)


def plan_training(config: ConfigSource | None = None, overrides: Sequence[str] = (), *,
                  seeds: int | None = None, folds: int | None = None, resume: str | Path | None = None,
                  dry_run: bool = False, output_dir: str | Path | None = None, device: str | None = None,
                  threads: int | None = None, run_dir: str | Path | None = None) -> TrainPlan:
    """Check a training request without torch: ``config`` is a YAML path (``overrides`` are its
    ``a.b=value`` items, like --set), a Config or a dict of the YAML's shape; ``seeds`` N trains N
    seeds and their ensemble, ``folds`` K k-fold cross-validation (one or the other); ``resume``
    continues a run or group directory as it was configured (give nothing else but ``device``);
    ``dry_run`` builds data, vectors and model and stops; ``run_dir`` names the run (or group)
    directory exactly: a new or empty folder. Problems raise SentinetError with the CLI's message."""
    seeds, folds = _count(seeds, 1, "seeds"), _count(folds, 0, "folds")
    if folds and seeds > 1:
        raise SentinetError("--folds and --seeds: choose one (for seeds of folds, run --folds once per train.seed)")
    check_folds(folds, "--folds")
    if threads is not None:
        _count(threads, 1, "threads")
    if resume is not None:
        if config is not None or overrides or seeds > 1 or folds or output_dir is not None or dry_run \
                or threads is not None or run_dir is not None:
            raise SentinetError("--resume continues a run as it was configured: give only the run "
                                "directory (and --device)")
        return _resume_plan(Path(resume), device)
    if config is None:
        raise SentinetError("train needs --config FILE (or --resume RUN_DIR)")
    cfg = config_of(config, overrides)
    if device is not None:
        cfg.train.device = device
    if output_dir is not None:
        cfg.run.output_dir = str(output_dir)
    if threads is not None:
        cfg.train.num_threads = threads
    resolve_paths(cfg)  # a missing data or vectors file is said before torch starts
    plan = TrainPlan(cfg, seeds, folds, dry_run=dry_run, run_dir=_fresh_folder(run_dir))
    if folds and not dry_run:  # a dry run builds one model: its folds are not looked at
        if cfg.data.dev:
            raise SentinetError("--folds: data.dev names a dev file; folds are carved from data.train")
        if cfg.train.baseline:
            where = f" --config {config}" if isinstance(config, (str, Path)) else ""
            plan.notes.append("train.baseline is not fitted with --folds (it would score another dev "
                              f"set); sentinet baseline{where} scores the configured split")
    return plan


def run_plan(plan: TrainPlan) -> Trained:
    """Train as planned (torch is imported here); a Ctrl-C raises ``Interrupted`` once what was
    trained is usable."""
    from sentinet.evaluation.metrics import score_of
    from sentinet.training.groups import cross_validate, resume_group, train_ensemble
    from sentinet.training.loop import train

    cfg = plan.config
    if plan.group:
        return Trained(resume_group(plan.resume, plan.device))
    if plan.dry_run:
        train(cfg, dry_run=True)
        return Trained(None)
    if plan.folds:
        return Trained(cross_validate(cfg, plan.folds, into=plan.run_dir))
    if plan.seeds > 1:
        group = train_ensemble(cfg, plan.seeds, into=plan.run_dir)
        ensemble = score_of(group.summary["ensemble"])
        return Trained(group, compare_baseline(cfg, ensemble, f"neural ({plan.seeds}-seed ensemble)"))
    result = train(cfg, resume=plan.resume, into=plan.run_dir)  # a plain run, new or resumed
    return Trained(result, compare_baseline(cfg, score_of(result.best), "neural"))


def compare_baseline(cfg: Config, neural: float, what: str) -> BaselineComparison | None:
    """``train.baseline``: fit the baseline on the run's own config and write its run beside
    the neural one; None when the config does not ask for it."""
    if not cfg.train.baseline:
        return None
    from sentinet.baseline import fit, write

    fitted = fit(cfg)
    return BaselineComparison(write(fitted), fitted, neural, what)


def config_of(config: ConfigSource, overrides: Sequence[str] = ()) -> Config:
    """A Config of its own from a YAML path (with ``overrides`` applied), a Config (copied) or a
    dict of the YAML's shape; one not read from a file is named ``run`` unless it says."""
    if isinstance(config, (str, Path)):
        return load_config(config, list(overrides))
    if overrides:
        raise SentinetError("train: overrides apply to a YAML file; change the Config or dict itself")
    cfg = copy.deepcopy(config) if isinstance(config, Config) else from_dict(config)
    cfg.run.name = cfg.run.name or "run"
    return cfg


def resumable_config(run_dir: Path, device: str | None = None) -> Config:
    """The config a run directory was trained with, checked before anything else happens.
    An incomplete run without last.pt (stopped before its first checkpoint) starts over; a
    finished one is refused (see ``finished``)."""
    from sentinet.baseline import FITTING, is_baseline
    from sentinet.runs.rundir import CONFIG, LAST, read_config, status

    if not (run_dir / CONFIG).is_file():
        raise SentinetError(f"{run_dir}: not a sentinet run directory (no {CONFIG})")
    if is_baseline(run_dir) or status(run_dir) == FITTING:
        raise SentinetError(f"{run_dir}: a baseline run has nothing to resume; run sentinet baseline again")
    if status(run_dir) is None:
        why = "" if (run_dir / LAST).is_file() else f" (no {LAST} to resume from)"
        raise finished(run_dir, f"a finished run{why}", f"a new run from its weights: sentinet train --config "
                       f"{run_dir / CONFIG} --set model.init_from={run_dir} --set train.epochs=N")
    cfg = read_config(run_dir / CONFIG)
    if device:
        cfg.train.device = device
    return cfg


def _resume_plan(run_dir: Path, device: str | None) -> TrainPlan:
    """A run or group directory to continue, checked (its own files only) before torch."""
    from sentinet.fileio import check_own_tree
    from sentinet.runs.rundir import CONFIG, is_group, read_group_plan, status

    if not run_dir.exists():
        raise SentinetError(f"--resume {run_dir}: no such run directory")
    check_own_tree(run_dir)  # before any of its files is read: a planted link is named as such
    if is_group(run_dir):
        kind, count = read_group_plan(run_dir)
        if status(run_dir) is None:
            raise finished(run_dir, f"a finished group of {count} {kind}", f"a new group: sentinet train "
                           f"--config {run_dir / CONFIG} --{kind} {count} --set train.epochs=N")
        return TrainPlan(None, resume=run_dir, group=True, device=device)
    return TrainPlan(resumable_config(run_dir, device), resume=run_dir)


def _fresh_folder(run_dir: str | Path | None) -> Path | None:
    """``--run-dir``: a folder that does not exist yet, or an empty one; a non-empty one is never
    written into (a finished or interrupted run there is continued with --resume, not this)."""
    if run_dir is None:
        return None
    path = Path(run_dir).expanduser()
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise SentinetError(f"--run-dir {run_dir}: not a folder; name a new or empty folder")
    if path.is_dir() and any(path.iterdir()):
        raise SentinetError(f"--run-dir {run_dir}: not empty; name a new or empty folder (a run there "
                            f"continues with --resume {run_dir})")
    return path.absolute()


def finished(run_dir: Path, what: str, start: str) -> SentinetError:
    """A run or group marked complete (no INCOMPLETE note) stays as it finished: resuming it
    would only re-score dev and rewrite its results (and fit another baseline), since its
    epochs or early stopping already ended it. The note decides, not last.pt, which a finished
    run keeps. ``start`` says what to train instead."""
    return SentinetError(f"{run_dir}: {what} cannot be resumed; nothing in it was changed. To train it "
                         f"further, start {start}")


def _count(value: int | None, least: int, name: str) -> int:
    """``seeds``, ``folds`` or ``threads`` from Python: a whole number (None: the default)."""
    return least if value is None else whole_number(value, name, least)
