"""``sentinet distill ENSEMBLE -o RUN`` as a user meets it: a 2-seed ensemble trained on the
tiny corpus, distilled into one run (with a temperature and unlabelled texts, from the CLI;
plainly, from Python; into a hierarchical head; a multi-label ensemble into a multi-label run),
which predict and eval take like any run, whose metrics.json names the ensemble and holds its
dev score beside its own; and every way to get it wrong, refused in one line, nothing written.

The ensemble is trained once per module, in this process (seconds); each student trains 1-2 epochs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import sentinet
from sentinet.cli.main import app
from sentinet.data.readers import read_records
from sentinet.errors import SentinetError
from sentinet.runs import rundir

from ..helpers import (
    NEGATIVE, NEUTRAL, POSITIVE, assert_one_line_error, run_cli, snapshot, tiny_project,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict:
    """The tiny data, its config, ``ens``: a 2-seed ensemble of 2-epoch GRUs, and ``more.txt``:
    unlabelled texts, the first of them a dev text (which distillation must leave out)."""
    root = tmp_path_factory.mktemp("distill")
    data, config = tiny_project(root)
    ens = sentinet.train(config, overrides=["train.epochs=2"], seeds=2, run_dir=root / "ens").path
    dev_ids = {row["id"] for row in json.loads((ens / "seed3" / rundir.DEV).read_text(encoding="utf-8"))}
    dev_text = next(r.text for r in read_records(data["train"]) if r.id in dev_ids)
    more = root / "more.txt"
    more.write_text(f"{dev_text}\nвтб спасибо круто\nальфабанк завис ужасно\nсбербанк офис сегодня\n",
                    encoding="utf-8")
    return {**data, "config": config, "ens": ens, "more": more, "root": root}


@pytest.fixture(scope="module")
def student(project) -> dict:
    """``sentinet distill ens -o student --unlabelled more.txt --temperature 2`` (in this process)."""
    out = project["root"] / "student"
    done = invoke("distill", str(project["ens"]), "-o", str(out), "--unlabelled", str(project["more"]),
                  "--temperature", "2")
    return {"run": out, "done": done, "metrics": metrics(out)}


def metrics(path: Path) -> dict:
    return json.loads((path / rundir.METRICS).read_text(encoding="utf-8"))


def invoke(*args: str):
    """``sentinet ARGS`` in this process (torch is loaded already: seconds saved a call)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


# --------------------------------------------------------------------------------------
# The student


def test_the_student_is_a_finished_run_that_says_what_it_was_distilled_from(project, student):
    run, m, ens = student["run"], student["metrics"], project["ens"]
    assert rundir.status(run) is None and (run / rundir.WEIGHTS).is_file()
    ensemble = metrics(ens)["ensemble"]
    assert m["distilled_from"] == str(ens.resolve())
    d = m["distillation"]
    assert d["ensemble_dev"] == ensemble and d["temperature"] == 2.0 and d["members"] == 2
    assert d["texts"] == 120 and d["unlabelled_texts"] == 3  # the dev text among them left out
    assert m["best"]["pairs"] == 30  # the members' own gold dev split
    config = yaml.safe_load((run / rundir.CONFIG).read_text(encoding="utf-8"))
    assert config["train"]["distill"] == {"teacher": str(ens.resolve()), "temperature": 2.0,
                                          "unlabeled": [str(project["more"].resolve())]}
    assert config["model"]["encoder"]["hidden_size"] == 16  # the member's model section
    log = (run / rundir.LOG).read_text(encoding="utf-8")
    assert f"distill: the 2 members of the ensemble {ens.resolve()} label 120 training texts and 3 " in log
    assert "1 unlabelled texts that are dev texts left out" in log
    both = (f"dev F-macro: distilled {m['best']['f_macro']:.4f} vs ensemble {ensemble['f_macro']:.4f} "
            f"({m['best']['f_macro'] - ensemble['f_macro']:+.4f}), distilled from {ens.resolve()}")
    assert both in log


def test_its_last_line_holds_both_dev_scores(student):
    best, d = student["metrics"]["best"], student["metrics"]["distillation"]
    last = student["done"].stdout.splitlines()[-1]
    theirs = d["ensemble_dev"]["f_macro"]
    assert last == (f"{student['run']}\tdev F-macro {best['f_macro']:.4f}\tF-micro {best['f_micro']:.4f}\t"
                    f"best epoch {student['metrics']['best_epoch']}\tensemble F-macro {theirs:.4f} "
                    f"({best['f_macro'] - theirs:+.4f})")


def test_predict_and_eval_take_the_student(project, student):
    rows = [json.loads(line) for line in
            invoke("predict", str(student["run"]), str(project["lines"]), "--format", "jsonl").stdout.splitlines()]
    assert len(rows) == 3 and all(r["label"] in (-1, 0, 1) for r in rows)
    report = json.loads(invoke("eval", str(student["run"]), str(project["test"]), "--json").stdout)
    assert report["pairs"] == 32 and 0 <= report["f_macro"] <= 1


def test_from_python_without_temperature_or_unlabelled_texts(project):
    done = sentinet.distill(project["ens"], project["root"] / "plain", overrides=["train.epochs=1"])
    d = metrics(done.path)["distillation"]
    assert d["temperature"] == 1.0 and d["unlabelled_texts"] == 0 and d["texts"] == 120
    ensemble = metrics(project["ens"])["ensemble"]
    assert done.ensemble_dev == ensemble and done.ensemble_score == ensemble["f_macro"]
    assert done.comparison.startswith(f"dev F-macro: distilled {done.best['f_macro']:.4f} vs ensemble ")
    assert sentinet.load(done.path).predict("сбербанк спасибо отлично") in (-1, 0, 1)


def test_a_hierarchical_head_learns_the_soft_targets_too(project):
    done = sentinet.distill(project["ens"], project["root"] / "tree",
                            overrides=["model.head=hierarchical", "train.epochs=1"])
    m = metrics(done.path)
    assert m["distilled_from"] == str(project["ens"].resolve()) and m["epochs"][0]["loss"] > 0
    assert yaml.safe_load((done.path / rundir.CONFIG).read_text(encoding="utf-8"))["model"]["head"] == "hierarchical"


def test_a_multilabel_ensemble_distils_into_a_multilabel_run(project, tmp_path):
    """Binary cross-entropy against each class's averaged sigmoid."""
    rng = random.Random(4)

    def rows(n: int) -> str:
        lines = []
        for i in range(n):
            labels = [c for c in ("good", "bad") if rng.random() < 0.5]
            words = [*rng.sample(NEUTRAL, 2), *(rng.choice(POSITIVE if c == "good" else NEGATIVE) for c in labels)]
            lines.append(json.dumps({"id": str(i), "text": " ".join(words), "label": labels}, ensure_ascii=False))
        return "\n".join(lines) + "\n"

    (tmp_path / "train.jsonl").write_text(rows(80), encoding="utf-8")
    (tmp_path / "dev.jsonl").write_text(rows(30), encoding="utf-8")
    config = {"data": {"train": str(tmp_path / "train.jsonl"), "dev": str(tmp_path / "dev.jsonl")},
              "vectors": {"path": str(project["vectors"])}, "model": {"head": "multilabel",
              "encoder": {"name": "gru", "hidden_size": 8}}, "train": {"epochs": 1, "seed": 1, "device": "cpu"},
              "run": {"name": "ml"}}
    ens = sentinet.train(config, seeds=2, run_dir=tmp_path / "ens").path
    done = sentinet.distill(ens, tmp_path / "student", temperature=2)
    m = metrics(done.path)
    assert m["multilabel"] is True and m["distillation"]["temperature"] == 2.0
    assert m["distillation"]["ensemble_dev"] == metrics(ens)["ensemble"]
    assert (done.path / rundir.DECISION).is_file()  # its own thresholds, chosen on the gold dev


# --------------------------------------------------------------------------------------
# Refused, in one line, nothing written


def test_a_single_run_and_an_empty_file_are_refused_by_the_cli(project):
    before = snapshot(project["root"])
    single = run_cli("distill", str(project["ens"] / "seed3"), "-o", str(project["root"] / "x"))
    assert_one_line_error(single, "seed3: a single run (no ensemble.json)", "--seeds N")
    empty = project["root"] / "empty.txt"
    empty.write_text("", encoding="utf-8")
    before["empty.txt"] = b""
    refused = run_cli("distill", str(project["ens"]), "-o", str(project["root"] / "x"), "--unlabelled", str(empty))
    assert_one_line_error(refused, f"--unlabelled {empty}: an empty file")
    assert snapshot(project["root"]) == before


@pytest.mark.parametrize("args, says", [
    (("nowhere", "out"), "nowhere: no such ensemble directory"),
    (("{ens}", "{ens}/student"), "inside"),
    (("{ens}", "{ens}"), "not empty"),
    (("{ens}", "out", {"unlabeled": ["missing.txt"]}), "--unlabelled missing.txt: no such file"),
    (("{ens}", "out", {"unlabeled": ["{root}"]}), "not a file"),
    (("{ens}", "out", {"temperature": 0}), "--temperature 0: must be above 0"),
    (("{ens}", "out", {"overrides": ["train.distill.temperature=-1"]}), "train.distill.temperature"),
])
def test_bad_input_is_one_line_and_writes_nothing(project, args, says):
    ens, root = str(project["ens"]), str(project["root"])
    ensemble, out, *options = [a.format(ens=ens, root=root) if isinstance(a, str) else a for a in args]
    options = {k: [x.format(root=root) for x in v] if isinstance(v, list) else v
               for k, v in (options[0] if options else {}).items()}
    before = snapshot(project["root"])
    with pytest.raises(SentinetError, match=says.replace("(", r"\(").replace(".", r"\.")):
        sentinet.distill(ensemble, out if Path(out).is_absolute() else project["root"] / out, **options)
    assert snapshot(project["root"]) == before


def test_a_file_without_texts_stops_before_the_run_directory_is_made(project):
    blank = project["root"] / "blank.txt"
    blank.write_text("\n\n", encoding="utf-8")
    with pytest.raises(SentinetError, match="blank.txt: no records"):
        sentinet.distill(project["ens"], project["root"] / "half", unlabeled=[blank])
    assert not (project["root"] / "half").exists()
