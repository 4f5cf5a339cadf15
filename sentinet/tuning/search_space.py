"""``tune``'s search space: a YAML file of dotted config keys, each a range
(``{type: int|float, low, high, log?, step?}``) or a ``{choice: [...]}``, checked against the
base config before any trial runs; the config a set of sampled values makes; and the grid
that ``--sampler grid`` walks."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sentinet.config.schema import Config, apply_overrides, check_folds, check_plain_name, from_dict, read_yaml
from sentinet.errors import SentinetError
from sentinet.config.encoders import ENCODER_OPTIONS

if TYPE_CHECKING:  # optuna loads slowly; only tune's trials need it
    from optuna.trial import Trial

RANGE_KEYS = ("type", "low", "high", "log", "step")
ENCODER_NAME = "model.encoder.name"
DOTTED_KEY = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
GRID_LIMIT = 100_000  # grid points: Optuna's GridSampler holds every combination in memory


@dataclass(frozen=True)
class Param:
    """One searched config key: an int or float range, or a list of choices."""

    key: str
    kind: str  # int | float | choice
    low: float = 0.0  # an int for kind int, as are high and step
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def suggest(self, trial: Trial) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high),
                                     step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def examples(self) -> list:
        """Values the space check builds configs with: every choice, or both ends."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


def read_space(path: Path, base: dict) -> tuple[Param, ...]:
    """The search space file, checked before any trial runs: spec syntax, ranges, and that
    every key is a config key that takes the values searched."""
    if not path.is_file():
        raise SentinetError(f"{path}: search space file not found")
    raw = read_yaml(path)
    if not raw:
        raise SentinetError(f"{path}: empty search space; map config keys to specs, e.g. "
                            "train.optimizer.lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}")
    space = tuple(parse_param(str(key), spec, f"{path}: {key}") for key, spec in raw.items())
    check_keys(space, base, str(path))
    return space


def parse_param(key: str, spec: Any, where: str) -> Param:
    """``{type: int|float, low, high, log?, step?}`` or ``{choice: [...]}`` → Param."""
    if not DOTTED_KEY.fullmatch(key):
        raise SentinetError(f"{where}: not a dotted config key (like train.optimizer.lr)")
    if not isinstance(spec, dict):
        raise SentinetError(f"{where}: expected {{type: int|float, low: ..., high: ...}} "
                            f"or {{choice: [...]}}, got {spec!r}")
    if "choice" in spec:
        return _parse_choice(key, spec, where)
    unknown = [str(k) for k in spec if k not in RANGE_KEYS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], [*RANGE_KEYS, "choice"], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (valid: {', '.join(RANGE_KEYS)}, choice)"
        raise SentinetError(f"{where}: unknown spec key '{unknown[0]}'{hint}")
    kind = spec.get("type")
    if kind not in ("int", "float"):
        raise SentinetError(f"{where}: type {kind!r} is not int or float "
                            "(for a list of values write choice: [...])")
    low, high = _spec_number(spec, "low", kind, where), _spec_number(spec, "high", kind, where)
    log, step = spec.get("log", False), spec.get("step")
    if not isinstance(log, bool):
        raise SentinetError(f"{where}: log must be true or false, got {log!r}")
    if step is not None:
        step = _spec_number(spec, "step", kind, where)
        if step <= 0:
            raise SentinetError(f"{where}: step {step} must be positive")
    if low >= high:
        raise SentinetError(f"{where}: low {low} must be below high {high}")
    if log and low <= 0:
        raise SentinetError(f"{where}: log scale needs low > 0, got {low}")
    if log and step is not None:
        raise SentinetError(f"{where}: log and step cannot be combined")
    return Param(key, kind, low, high, log, step)


def _parse_choice(key: str, spec: dict, where: str) -> Param:
    if len(spec) > 1:
        other = next(str(k) for k in spec if k != "choice")
        raise SentinetError(f"{where}: '{other}' does not go with choice (a list needs nothing else)")
    choices = spec["choice"]
    if not isinstance(choices, list) or not choices:
        raise SentinetError(f"{where}: choice must be a non-empty list, got {choices!r}")
    for value in choices:  # what Optuna can store: plain values, no lists
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise SentinetError(f"{where}: choice {value!r} is not a number, string, true/false or null")
    return Param(key, "choice", choices=tuple(choices))


def _spec_number(spec: dict, name: str, kind: str, where: str) -> float:
    if name not in spec:
        raise SentinetError(f"{where}: {name} is missing")
    value = spec[name]
    if kind == "float" and isinstance(value, str):  # PyYAML reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    number = (int,) if kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, number):
        raise SentinetError(f"{where}: {name} must be {'an integer' if kind == 'int' else 'a number'}, "
                            f"got {value!r}")
    return value if kind == "int" else float(value)


def check_keys(space: tuple[Param, ...], base: dict, where: str) -> None:
    """Each example value must build a config, alone or beside one value of another choice
    (``model.encoder.widths`` only exists once the sampled encoder is cnn)."""
    choices = [p for p in space if p.kind == "choice"]
    for p in space:
        contexts = [{c.key: v} for c in choices if c is not p for v in c.choices]
        for value in p.examples():
            error = _build_error(base, {p.key: value})
            if not error:
                continue
            others = [_build_error(base, {**context, p.key: value}) for context in contexts]
            if all(others):  # the error of a context that has the key says more (its range)
                known = [e for e in (error, *others) if "unknown config key" not in str(e)]
                raise SentinetError(f"{where}: {(known or [error])[0]}")


def _build_error(base: dict, values: dict[str, Any]) -> SentinetError | None:
    try:
        build_config(base, values)
    except SentinetError as exc:
        return exc
    return None


def build_config(base: dict, values: dict[str, Any]) -> Config:
    """The base config (raw YAML, --set applied) with ``values`` set at their dotted keys.

    A sampled encoder keeps only those of the base's encoder options it has: a gru base
    config searched over cnn loses hidden_size, but a sampled key it lacks is an error."""
    raw = copy.deepcopy(base)
    if ENCODER_NAME in values:
        _keep_encoder_options(raw, values[ENCODER_NAME])
    # YAML text round-trips any value; tidy: a stepped float is 0.30000000000000004 where the step meant 0.3
    items = [f"{key}={yaml.safe_dump(tidy(value))}" for key, value in values.items()]
    return from_dict(apply_overrides(raw, items))


def tidy(value: Any) -> Any:
    """A float rounded to 12 significant digits (float noise off; no setting needs more)."""
    return float(f"{value:.12g}") if isinstance(value, float) and math.isfinite(value) else value


def _keep_encoder_options(raw: dict, name: Any) -> None:
    model = raw.get("model")
    encoder = model.get("encoder") if isinstance(model, dict) else None
    if isinstance(encoder, dict) and name in ENCODER_OPTIONS:
        fields = {f.name for f in dataclasses.fields(ENCODER_OPTIONS[name])}
        model["encoder"] = {k: v for k, v in encoder.items() if k in fields}


def grid(space: tuple[Param, ...], where: str) -> dict[str, list]:
    """``--sampler grid``: every value each key takes (its choices, or low..high by step),
    in the space's order; the grid is every combination of them."""
    values = {p.key: grid_values(p, where) for p in space}
    size = grid_size(values)
    if size > GRID_LIMIT:
        counts = " × ".join(str(len(v)) for v in values.values())
        raise SentinetError(f"{where}: --sampler grid: {counts} = {size} grid points, over "
                            f"{GRID_LIMIT}; use larger steps or fewer choices")
    return values


def grid_values(p: Param, where: str) -> list:
    """A choice's distinct choices; an int range every ``step`` (1 by default, as Optuna's);
    a float range every ``step``, computed in decimal (0.1 + 2 × 0.1 is 0.3, not 0.30000000000000004)
    and, like Optuna, stopping at the last step below ``high``."""
    if p.kind == "choice":
        return list({(type(v), v): v for v in p.choices}.values())  # 1 and true stay apart
    if p.kind == "int":
        return list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))
    if p.step is None:
        fix = "list the values as choice: [...]" if p.log else "add a step, or list the values as choice: [...]"
        raise SentinetError(f"{where}: --sampler grid needs a step or choices for {p.key} "
                            f"(a{' log' if p.log else ''} float range without a step has no grid: {fix})")
    low, step = Decimal(str(p.low)), Decimal(str(p.step))
    count = int((Decimal(str(p.high)) - low) // step) + 1
    return [float(low + k * step) for k in range(count)]


def grid_size(points: dict[str, list]) -> int:
    return math.prod(len(v) for v in points.values())


def tried_points(points: dict[str, list], tried: list[dict[str, Any]]) -> set[tuple]:
    """The grid points among the values of trials (``params`` dicts) that have all its keys."""
    return {tuple(params[k] for k in points) for params in tried
            if all(k in params and params[k] in v for k, v in points.items())}


# --------------------------------------------------------------------------------------
# A study's job, checked before optuna and torch are imported


SAMPLERS = ("tpe", "random", "grid")  # --sampler; a study keeps the one it was created with


@dataclass(frozen=True)
class Job:
    """What every worker process needs to run trials of one study (picklable)."""

    name: str
    storage: str  # SQLAlchemy URL
    directory: Path  # OUTPUT_DIR/<study>: trials/, best.yaml, trials.md, trials.csv
    base: dict  # the base config as raw YAML, --set applied
    space: tuple[Param, ...]
    folds: int = 0  # > 0: each trial is k-fold cross-validation, scored by the fold mean
    sampler: str | None = None  # tpe | random | grid; None: the study's own (tpe for a new one)


def make_job(config: Path, space: Path, overrides: list[str], study: str | None,
             output_dir: Path | None, storage: str | None, folds: int,
             sampler: str | None = None) -> Job:
    """Everything checked up front, nothing written: a bad input leaves no study behind."""
    if sampler is not None and sampler not in SAMPLERS:
        raise SentinetError(f"--sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    base = apply_overrides(read_yaml(config), overrides)
    cfg = from_dict(base)
    check_folds(folds, "--folds")
    if folds and cfg.data.dev:
        raise SentinetError("--folds: data.dev names a dev file; folds are carved from data.train")
    name = check_plain_name(config.stem if study is None else study, "--study", " (it names a directory)")
    directory = Path(output_dir or cfg.run.output_dir).resolve() / name
    params = read_space(space, base)
    if sampler == "grid":
        grid(params, str(space))
    if storage is not None:
        check_storage(storage)
    return Job(name, storage or f"sqlite:///{directory / 'study.db'}", directory, base, params,
               folds, sampler)


def check_storage(url: str) -> None:
    """An in-memory SQLite study lives in one connection: worker processes, the summary and
    a resume each open another and find no study. Refused, with what to use instead."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is no number
        return  # open_storage says what is wrong with it
    memory = parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory" \
        or str(parsed.database).startswith("file::memory:")
    if parsed.get_backend_name() == "sqlite" and memory:
        shown = (parsed.render_as_string(hide_password=True) if parsed.password else url)[:60]  # as typed
        raise SentinetError(f"--storage {shown!r}: an in-memory SQLite database cannot hold a study "
                            "(its workers, summary and resumes each open their own); give a file, "
                            "e.g. sqlite:///study.db, or leave --storage out")
