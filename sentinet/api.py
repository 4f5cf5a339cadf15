"""sentinet from Python: load a run and label strings, or train one from a config.

    import sentinet
    model = sentinet.load("runs/banks_gru-20261201-101500")   # a run, ensemble or export archive
    model.classes                        # [-1, 0, 1]
    model.predict(["Сбер опять завис", "спасибо, Тинькофф!"])   # [-1, 1]
    model.predict_proba(texts)           # np.ndarray [N, classes], columns in model.classes order
    model.explain("Сбер опять завис")    # each token's contribution to the label
    model.prevalence(texts)              # each class's share of the texts, three estimators
    model.evaluate("dev.tsv")            # the eval report (dict), a prevalence block included
    run_dir = sentinet.train("configs/banks_gru.yaml", overrides=["train.epochs=3"])

The CLI's eval, predict and explain are this module with files around it. Problems raise
``sentinet.errors.SentinetError`` with the one-line message the CLI would print.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentinet.runs import rundir
from sentinet.config.schema import Config
from sentinet.data.readers import (
    SINGLE_LABEL, Record, detect_data_format, label_column_detail, label_value, read_records,
)
from sentinet.data.records import fit_to_run
from sentinet.errors import SentinetError
from sentinet.labels import Label, check_known, label_values, require_labels

if TYPE_CHECKING:  # type hints only: groups imports torch
    from sentinet.inference.protocol import Predictor
    from sentinet.training.distill import Distilled
    from sentinet.training.groups import EnsembleResult

Texts = str | Sequence[str]
EVAL_TEXT_COLUMN = "use --text-column (Python: text_column=)"  # eval's advice for a file's other text column
# What Model.explain (and so the CLI and serve) accepts, short names included.
EXPLAIN_METHODS = {"occlusion": "occlusion", "integrated_gradients": "integrated_gradients",
                   "ig": "integrated_gradients"}


@dataclass
class Evaluation:
    """What ``Model.evaluate_with_predictions`` scored: the records, their probabilities and
    labels, the report."""

    records: list[Record]
    probs: np.ndarray
    predicted: list[Label]
    report: dict

    def mistakes(self, names: Sequence[str]) -> list[dict]:
        """Every misclassified (record, company) pair, the most confident mistakes first."""
        rows = []
        for record, p, y in zip(self.records, self.probs, self.predicted):
            for entity, gold in record.labels.items():
                if (set(gold) != set(y)) if isinstance(gold, tuple) else gold != y:  # multi-label: sets
                    rows.append({"id": record.id, "entity": entity, "text": record.text, "gold": gold,
                                 "predicted": y, "confidence": float(p.max()),
                                 "probabilities": dict(zip(names, (float(x) for x in p)))})
        return sorted(rows, key=lambda r: -r["confidence"])


class Model:
    """A loaded run, ensemble, baseline or export archive (``sentinet.load`` gives one)."""

    def __init__(self, predictor: Predictor):
        self._predictor = predictor

    def __repr__(self) -> str:
        return f"sentinet.Model({str(self.path)!r}, classes={self.classes})"

    @property
    def path(self) -> Path:
        return Path(self._predictor.path)

    @property
    def classes(self) -> list[Label]:
        """The labels ``predict`` returns, in the column order of ``predict_proba``."""
        return list(self._predictor.classes.values)

    @property
    def class_names(self) -> list[str]:
        """The classes' names (``negative`` for -1 …), the keys of probability dicts and reports."""
        return list(self._predictor.classes.names)

    @property
    def predictor(self) -> Predictor:
        """What labels the texts underneath (a ``sentinet.inference.protocol.Predictor``, whatever
        the kind): the CLI's streaming writers take it, for progress bars and chunked output."""
        return self._predictor

    @property
    def config(self) -> Config:
        return self._predictor.config

    def close(self) -> None:
        """Remove the temporary folder a loaded export archive was unpacked into (it is removed at
        exit anyway; a long-lived process that is told to stop says so itself). A no-op otherwise."""
        self._predictor.close()

    def predict_proba(self, texts: Texts, batch_size: int = 256) -> np.ndarray:
        """Class probabilities: [N, classes] for a list, [classes] for one string."""
        batch = [texts] if isinstance(texts, str) else _strings(texts)
        probs = self._predictor.predict_proba(batch, batch_size, progress=False)
        return probs[0] if isinstance(texts, str) else probs

    def predict(self, texts: Texts, batch_size: int = 256) -> Label | list[Label]:
        """Labels under the run's decision rule: a list for a list, one label for one string."""
        probs = self.predict_proba([texts] if isinstance(texts, str) else texts, batch_size)
        labels = self.labels(probs)
        return labels[0] if isinstance(texts, str) else labels

    def labels(self, probs: np.ndarray) -> list[Label]:
        """The decision rule (argmax plus the run's tuned bias) applied to probabilities."""
        return self._predictor.labels(np.atleast_2d(probs))

    def explain(self, text: str, method: str = "occlusion", target_class: Label | None = None):
        """Each token's contribution to the predicted class, or to ``target_class`` (a label or a
        class name; a multi-label run: the most probable class unless named), as a
        sentinet.inference.explain.Explanation: ``occlusion`` or ``integrated_gradients`` (``ig``;
        neural runs)."""
        if not isinstance(text, str):
            raise SentinetError(f"explain takes one text (a str), not {type(text).__name__}")
        if not isinstance(method, str) or method not in EXPLAIN_METHODS:
            raise SentinetError(f"unknown explanation method {str(method)[:40]!r} (choose occlusion or "
                                "integrated_gradients)")
        if not text.strip():
            raise SentinetError("explain: the text is empty")
        from sentinet.inference.explain import explain

        return explain(self._predictor, text, EXPLAIN_METHODS[method], target_class=target_class)

    def prevalence(self, texts: Sequence[str], batch_size: int = 256) -> dict:
        """Each class's share of ``texts`` by counting labels, averaging probabilities and the
        EM-adjusted estimate (sentinet.evaluation.prevalence; EM is the one to trust on new data)."""
        probs = self.predict_proba(_strings(texts), batch_size)
        return self.prevalence_of(probs)

    def prevalence_of(self, probs: np.ndarray, true: Sequence[float] | None = None) -> dict:
        """``prevalence`` from probabilities already computed (one row per text)."""
        from sentinet.evaluation.metrics import PER_CLASS_LIMIT
        from sentinet.evaluation.prevalence import errors, estimate

        if len(self.classes) > PER_CLASS_LIMIT:  # EM over 5,000 classes took most of a minute
            return {"texts": len(probs), "left_out": f"class shares are left out beyond {PER_CLASS_LIMIT} "
                                                     f"classes (this run has {len(self.classes):,})"}
        if self._predictor.classes.multilabel:
            return self._label_shares(probs, true)
        priors, where = training_priors(self._predictor)
        predicted = [self._predictor.classes.to_class(y) for y in self.labels(probs)] if len(probs) else []
        shares = estimate(probs, priors, np.asarray(predicted, dtype=np.int64))
        block = {"classes": self.class_names, "labels": self.classes, "texts": len(probs), **shares,
                 "train_priors": [round(float(x), 6) for x in priors], "train_priors_from": where}
        if true is not None:
            block["true"] = [round(float(x), 6) for x in true]
            block["mean_absolute_error"] = errors(shares, true)
        return block

    def _label_shares(self, probs: np.ndarray, true: Sequence[float] | None) -> dict:
        """A multi-label run's class shares: the texts given each label and the mean probability
        (each class on its own: shares need not sum to 1, and the EM estimate, which shares one
        total among the classes, does not apply)."""
        from sentinet.evaluation.multilabel import indicator

        classes = self._predictor.classes
        counted = indicator(self.labels(probs), classes).mean(axis=0) if len(probs) else None
        block = {"classes": self.class_names, "labels": self.classes, "texts": len(probs),
                 "count": None if counted is None else [round(float(x), 6) for x in counted],
                 "average": [round(float(x), 6) for x in probs.mean(axis=0)] if len(probs) else None,
                 "em": None, "em_left_out": "multi-label: each class's share on its own; no EM"}
        if true is not None:
            from sentinet.evaluation.prevalence import errors

            block["true"] = [round(float(x), 6) for x in true]
            block["mean_absolute_error"] = errors(block, true)
        return block

    def evaluate(self, data: str | Path | Iterable, batch_size: int = 256, **columns: str) -> dict:
        """The eval report of labelled data: a file (any supported format; ``text_column``,
        ``label_column``, ``id_column``, ``format`` as keywords) or (text, label) pairs,
        {"text", "label"} dicts or Records. Scores, per-class report, confusions, prevalence."""
        return self.evaluate_with_predictions(data, batch_size, **columns).report

    def evaluate_with_predictions(self, data: str | Path | Iterable, batch_size: int = 256,
                                  progress: bool = False, **columns: str) -> Evaluation:
        """``evaluate`` with the records, probabilities and labels behind the report (the
        rows of ``eval --errors`` are its ``mistakes``)."""
        from sentinet.evaluation.metrics import full_report

        records, source = self._records(data, columns)
        require_labels(records, source, self._label_detail(data, columns))
        labelled = [r for r in records if r.labels]
        unlabelled, records = len(records) - len(labelled), labelled
        classes = self._predictor.classes
        check_known(records, classes, source)
        probs = self._predictor.predict_proba([r.text for r in records], batch_size, progress=progress)
        predicted = self.labels(probs)
        report = full_report([r.labels for r in records], predicted, classes, self.config.train.metric)
        per_pair = np.repeat(probs, [len(r.labels) for r in records], axis=0)
        gold = [classes.to_class(v) for r in records for v in label_values(r.labels)]
        true = np.bincount(gold, minlength=len(classes)) / max(len(gold) if not classes.multilabel else len(records), 1)
        report["prevalence"] = self.prevalence_of(per_pair, true)
        report["unlabelled"] = unlabelled  # records without a label: read, not scored
        return Evaluation(records, probs, predicted, report)

    # The name docs/GUIDE.md gives it: kept for code written against it.
    evaluation = evaluate_with_predictions

    def _label_detail(self, data: Any, columns: dict[str, str]) -> str:
        """Where a file's labels were looked for, and the flag that names another column."""
        if not isinstance(data, (str, Path)):
            return ""
        d = self.config.data
        return label_column_detail(data, columns.get("format") or "auto", columns.get("quoting") or d.quoting,
                                   columns.get("label_column") or d.label_column,
                                   "use --label-column (Python: label_column=)")

    def _records(self, data: Any, columns: dict[str, str]) -> tuple[list[Record], str]:
        if isinstance(data, (str, Path)):
            d = self.config.data
            unknown = set(columns) - {"format", "text_column", "label_column", "id_column", "quoting"}
            if unknown:
                raise SentinetError(f"evaluate: unknown keyword {sorted(unknown)[0]!r} (format, text_column, "
                                    "label_column, id_column, quoting)")
            options = {"text_column": d.text_column, "label_column": d.label_column, "id_column": d.id_column,
                       "quoting": d.quoting, **{k: v for k, v in columns.items() if v is not None}}
            multilabel = self._predictor.classes.multilabel
            records = read_records(Path(data), **options, text_column_fix=EVAL_TEXT_COLUMN,  # "|": predict's own
                                   label_separator=d.label_separator or ("|" if multilabel else ""))
            format = options.get("format", "auto")
            format = detect_data_format(Path(data)) if format == "auto" else format
            source = str(data)
        else:
            records, source, format = [_record(x, i) for i, x in enumerate(data, 1)], "the records", None
        fit_to_run(records, format, self._predictor.classes.multilabel, source)
        return records, source


def load(path: str | Path, device: str = "auto", int8: bool = False, threads: int | None = None,
         engine: str | None = None) -> Model:
    """A run directory (or its model.pt), an ensemble directory, a baseline run or an export
    archive, ready to label text on ``device`` (auto: CUDA when present). ``threads``: torch
    CPU threads, fixed (default: the cores other processes leave free, re-read as it runs).
    ``engine``: auto (default, or $SENTINET_ENGINE), torch or lite: an export archive opens
    with numpy alone on the CPU unless torch is asked for (sentinet.lite).
    sentinet.inference.opener decides which kind the path holds (and imports torch only for
    a neural one, after every argument is checked)."""
    from sentinet.inference.opener import open_predictor

    return Model(open_predictor(path, device, int8, threads, engine))


def train(config: str | Path | Config | dict | None = None, overrides: Sequence[str] = (),
          output_dir: str | Path | None = None, device: str | None = None, *, seeds: int | None = None,
          folds: int | None = None, resume: str | Path | None = None, dry_run: bool = False,
          threads: int | None = None, run_dir: str | Path | None = None) -> Path | EnsembleResult | None:
    """Train as ``sentinet train`` does (sentinet.training.workflows); ``config`` is a YAML path
    (with ``overrides`` like ``--set``: ``a.b=value``), a Config or a dict of the YAML's shape.

    - a plain run returns its run directory (a Path), as ``train(config)`` always has;
    - ``seeds=N`` (N seeds on one dev split and their ensemble) or ``folds=K`` (k-fold
      cross-validation) returns the group's ``EnsembleResult``: ``.path`` (the group directory,
      which ``load`` takes), ``.members`` (each member's TrainResult) and ``.summary`` (mean ±
      std of the members; ``ensemble``: the ensemble's, or with folds the out-of-fold, dev scores);
    - ``resume=RUN_DIR`` (nothing else but ``device``) continues an interrupted run, returning
      its directory, or a group directory, returning its EnsembleResult;
    - ``dry_run=True`` checks config, data, vectors and model, writes nothing, returns None.
    ``threads``: torch CPU threads (train.num_threads); ``run_dir``: the run (or group) directory
    exactly, a new or empty folder. With ``train.baseline`` the linear
    baseline is fitted after a run or seed ensemble, as the CLI does."""
    from sentinet.training.workflows import train_workflow

    trained = train_workflow(config, overrides, seeds=seeds, folds=folds, resume=resume, dry_run=dry_run,
                             output_dir=output_dir, device=device, threads=threads, run_dir=run_dir)
    result = trained.result
    if result is None:  # a dry run
        return None
    from sentinet.training.groups import EnsembleResult

    return result if isinstance(result, EnsembleResult) else result.run_dir


def distill(ensemble: str | Path, output: str | Path, config: str | Path | Config | dict | None = None,
            overrides: Sequence[str] = (), *, unlabeled: Sequence[str | Path] = (),
            temperature: float | None = None, device: str | None = None,
            threads: int | None = None) -> Distilled:
    """One run trained on ``ensemble``'s probabilities, as ``sentinet distill`` does
    (sentinet.training.distill), into ``output`` (a new or empty folder): one model in place of
    the ensemble's N, a little less accurate. ``config`` (default: the ensemble's first member's,
    with ``overrides`` like ``--set``), ``unlabeled`` (files of more texts for the ensemble to
    label), ``temperature`` (train.distill.temperature). Returns a ``Distilled``: ``.path`` (the
    run, which ``load`` takes), ``.best`` (its dev scores), ``.ensemble_dev`` (the ensemble's,
    None when it was not scored) and ``.comparison`` (both in one line)."""
    import warnings

    from sentinet.training.distill import distill as distill_run

    return distill_run(ensemble, output, config, overrides, unlabeled=unlabeled, temperature=temperature,
                       device=device, threads=threads, on_note=lambda note: warnings.warn(note, stacklevel=3))


def fetch(config: str | Path | Config | dict, overrides: Sequence[str] = (), mirror: str | None = None,
          progress: bool | None = None) -> list[tuple[str, Any]]:
    """Every data and vector file a config names, found where training looks, the known ones
    that are missing downloaded and verified first (``sentinet fetch``): (key, Path) for a file
    found, (key, sentinet.downloads.fetch.Fetched) for one fetched."""
    from sentinet.config.paths import config_files, resolve_existing, resolve_path
    from sentinet.config.schema import from_dict, load_config
    from sentinet.downloads.catalog import dataset_of, vectors_of
    from sentinet.downloads.fetch import download_file, download_vectors

    if isinstance(config, dict):
        config = from_dict(config)
    elif not isinstance(config, Config):
        config = load_config(config, overrides)
    done: list[tuple[str, Any]] = []
    for key, path, env_var in config_files(config):
        found = resolve_path(path, env_var, config.folder)
        if found.exists():
            done.append((key, found))
        elif (known := dataset_of(path)) is not None:
            done.append((key, download_file(*known, mirror=mirror, progress=progress)))
        elif (named := vectors_of(path)) is not None:
            done.append((key, download_vectors(named[0])))
        else:
            resolve_existing(path, env_var, key, config.folder)  # raises: says where it looked
    return done


def training_priors(predictor: Predictor) -> tuple[np.ndarray, str]:
    """The class priors a model was trained under, the start of the EM estimate: uniform for
    ``class_weights: balanced`` (the loss weighs every class alike), else the training class
    counts (times the configured weights) from metrics.json; uniform if a run lacks them."""
    n = len(predictor.classes)
    weights = predictor.config.train.class_weights
    if weights == "balanced":
        return np.full(n, 1.0 / n), "uniform (train.class_weights: balanced)"
    counts = np.zeros(n)
    for run_dir in predictor.run_dirs:
        try:
            found = rundir.read_metrics(run_dir).get("data", {}).get("class_counts")
        except SentinetError:
            found = None
        if not isinstance(found, list) or len(found) != n:
            return np.full(n, 1.0 / n), "uniform (the run does not record its training class counts)"
        counts += np.asarray(found, dtype=np.float64)
    if isinstance(weights, list) and len(weights) == n:
        counts *= np.asarray(weights, dtype=np.float64)
    if counts.sum() <= 0:
        return np.full(n, 1.0 / n), "uniform (no training counts)"
    return counts / counts.sum(), "training class counts" + (" x class_weights" if isinstance(weights, list) else "")


def _strings(texts: Any) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Iterable):
        raise SentinetError(f"expected a list of strings, got {type(texts).__name__}")
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise SentinetError(f"text {bad + 1} is a {type(texts[bad]).__name__}, not a str")
    return texts


def _record(item: Any, n: int) -> Record:
    """A Record from a Record, a (text, label) pair or a {"text", "label"[, "id"]} dict."""
    if isinstance(item, Record):
        return item
    if isinstance(item, dict) and "text" in item:
        text, label, rid = item["text"], item.get("label"), str(item.get("id", n))
    elif isinstance(item, (tuple, list)) and len(item) == 2:
        (text, label), rid = item, str(n)
    else:
        raise SentinetError(f"record {n}: expected a (text, label) pair, a {{'text', 'label'}} dict or a Record")
    if not isinstance(text, str):
        raise SentinetError(f"record {n}: the text is a {type(text).__name__}, not a str")
    value = label_value(list(label) if isinstance(label, tuple) else label, f"record {n}")  # a list: several labels
    return Record(rid, text, {} if value is None else {SINGLE_LABEL: value})
