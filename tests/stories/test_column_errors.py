"""A wrong text or label column, met from each command: the error names the column looked in,
the columns (or JSONL fields) the file has, and the flag or key that fixes it for that command."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import assert_one_line_error, run_cli, tiny_config_yaml


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {"csv": tmp_path / "wrong.csv", "jsonl": tmp_path / "wrong.jsonl", "notext": tmp_path / "notext.csv",
            "notext_jsonl": tmp_path / "notext.jsonl"}
    made["csv"].write_text("text,sentiment\nспасибо сбербанк,1\nкошмар втб,-1\n", encoding="utf-8")
    made["jsonl"].write_text('{"text": "спасибо", "sentiment": 1}\n', encoding="utf-8")
    made["notext"].write_text("body,label\nспасибо,1\n", encoding="utf-8")
    made["notext_jsonl"].write_text('{"body": "спасибо"}\n', encoding="utf-8")
    return made


def test_train_names_the_label_column_the_file_s_columns_and_the_key(quick_run, files) -> None:
    config = files["csv"].parent / "c.yaml"
    config.write_text(tiny_config_yaml(quick_run), encoding="utf-8")
    for kind, what in (("csv", "columns: text, sentiment"), ("jsonl", "fields: text, sentiment")):
        result = run_cli("train", "--config", str(config), "--dry-run", "--set", f"data.train={files[kind]}")
        assert_one_line_error(result, f"{files[kind]}: no record carries a label in 'label' ({what}; "
                              "set data.label_column)")
    result = run_cli("train", "--config", str(config), "--dry-run", "--set", f"data.train={files['notext']}")
    assert_one_line_error(result, "no 'text' column in the header (columns: body, label; set data.text_column)")


def test_eval_names_its_own_flags(quick_run, files) -> None:
    for kind, what in (("csv", "columns: text, sentiment"), ("jsonl", "fields: text, sentiment")):
        result = run_cli("eval", str(quick_run["run"]), str(files[kind]))
        assert_one_line_error(result, f"no record carries a label in 'label' ({what}; use --label-column")
    assert run_cli("eval", str(quick_run["run"]), str(files["csv"]), "--label-column", "sentiment").returncode == 0
    result = run_cli("eval", str(quick_run["run"]), str(files["notext"]))
    assert_one_line_error(result, "no 'text' column in the header (columns: body, label; use --text-column")
    result = run_cli("eval", str(quick_run["run"]), str(files["notext_jsonl"]))
    assert_one_line_error(result, "line 1: no 'text' field (fields: body; use --text-column")


def test_predict_names_its_own_flag_for_files_and_stdin(quick_run, files) -> None:
    result = run_cli("predict", str(quick_run["run"]), str(files["notext"]))
    assert_one_line_error(result, "no 'text' column in the header (columns: body, label; use --text-column)")
    result = run_cli("predict", str(quick_run["run"]), "-", "--input-format", "jsonl", stdin='{"body": "x"}\n')
    assert_one_line_error(result, "<stdin>: line 1: no 'text' field (fields: body; use --text-column)")


def test_errors_tsv_has_an_entity_column_only_for_sentirueval_data(quick_run, files, tmp_path) -> None:
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("text,label\nкошмар ужасно плохо,1\nспасибо отлично,-1\n", encoding="utf-8")
    result = run_cli("eval", str(quick_run["run"]), str(labelled), "--errors", str(tmp_path / "e.tsv"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "e.tsv").read_text(encoding="utf-8").split("\n")[0].split("\t")[:4] == [
        "id", "gold", "predicted", "confidence"]
    result = run_cli("eval", str(quick_run["run"]), str(quick_run["train"]), "--errors", str(tmp_path / "x.tsv"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.tsv").read_text(encoding="utf-8").startswith("id\tentity\tgold\tpredicted\t")
