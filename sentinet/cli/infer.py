"""The commands that use a trained model: ``sentinet eval | predict | explain`` (sentinet.cli.main
registers them beside the others). Each is a thin layer over sentinet.api: files in, the
same calls a notebook makes, files out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sentinet.cli.common import MODEL_HELP, load_model, run_files
from sentinet.inference import writers
from sentinet.runtime import streams
from sentinet.errors import SentinetError, printable

if TYPE_CHECKING:
    from sentinet.inference.protocol import Predictor

INT8_HELP = ("Dynamic int8 recurrent and linear layers (CPU): faster, probabilities within ~1e-2 "
             "of the float model's.")
COUNT_LIMIT = 256 * 2**20  # bytes: the most predict reads ahead to count records for its bar
THREADS_HELP = "CPU threads for torch (default: the cores other processes leave free, re-read as it runs)."
ENGINE_HELP = ("An export archive's engine: auto (numpy, no torch start, on the CPU when the archive has "
               "light files and no --int8; else torch), torch or lite (default: $SENTINET_ENGINE or auto).")


def evaluate(
    run: Path = typer.Argument(..., help=MODEL_HELP),
    data_file: Path = typer.Argument(..., help="Labelled data: SentiRuEval XML, TSV, CSV or JSONL."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object (every score, "
                                     "confusions, prevalence)."),
    errors: Path | None = typer.Option(None, "--errors", help="Write every misclassified item (id, "
                                       "text, gold, predicted, probabilities) to this TSV, the most "
                                       "confident mistakes first."),
    plots: Path | None = typer.Option(None, "--plots", help="Write confusion.png into this folder "
                                      "(the plots extra)."),
    input_format: str = typer.Option("auto", "--input-format", help="auto (from the extension), "
                                     "sentirueval, tsv, csv or jsonl."),
    text_column: str | None = typer.Option(None, help="Text column of TSV/CSV/JSONL data (default: the run's)."),
    label_column: str | None = typer.Option(None, help="Label column of TSV/CSV/JSONL data (default: the run's)."),
    id_column: str | None = typer.Option(None, help="Id column of TSV/CSV/JSONL data (default: the run's)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    batch_size: int = typer.Option(256, min=1, help="Texts per forward pass (more: faster, more memory)."),
    int8: bool = typer.Option(False, "--int8", help=INT8_HELP),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    engine: str | None = typer.Option(None, "--engine", metavar="ENGINE", help=ENGINE_HELP),
) -> None:
    """Score a trained model on labelled data: every headline score (the official SentiRuEval
    F-macro / F-micro for SentiRuEval labels; macro-F1, weighted-F1 and accuracy for any),
    the per-class report, the most confused classes and each class's estimated share."""
    from sentinet.data.readers import DATA_FORMATS, check_readable
    from sentinet.fileio import check_output, replaced_note

    if input_format not in ("auto", *DATA_FORMATS):
        raise SentinetError(f"--input-format {input_format!r}: choose one of auto, {', '.join(DATA_FORMATS)}")
    check_readable(data_file)  # before the model: a typo should not cost a model load
    replaced = errors is not None and check_output(errors, [data_file, *run_files(run)])
    if plots is not None and plots.exists() and not plots.is_dir():
        raise SentinetError(f"--plots {plots}: not a folder")
    model = load_model(run, device, int8, threads, engine)
    columns = {"format": input_format, "text_column": text_column, "label_column": label_column,
               "id_column": id_column}
    result = model.evaluate_with_predictions(data_file, batch_size, progress=True, **columns)
    report, names = result.report, model.class_names
    if report["unlabelled"]:
        n = report["unlabelled"]
        verbs = ("has", "is") if n == 1 else ("have", "are")
        typer.echo(f"note: {n:,} record{'s' * (n != 1)} of {printable(str(data_file))} {verbs[0]} no label "
                   f"and {verbs[1]} not scored", err=True)
    if errors is not None:
        count = _write_errors(errors, result.mistakes(names), names)
        typer.echo(f"wrote {count} misclassified items to {errors}{replaced_note(replaced)}", err=True)
    if plots is not None:
        _confusion_png(plots, report, data_file)
    if json_output:
        typer.echo(json.dumps({"run": str(model.path), "data": str(data_file), **report}, ensure_ascii=False))
        return
    _print_report(report, data_file)


def _print_report(report: dict, data_file: Path) -> None:
    from sentinet.evaluation.metrics import all_scores, pairs_noun
    from sentinet.evaluation.prevalence import summary_table

    typer.echo(f"{data_file}: {report['pairs']} scored {pairs_noun(report)}")
    typer.echo(all_scores(report))
    typer.echo(report["report"])
    if report.get("confused_pairs"):
        typer.echo("most confused: " + "; ".join(f"{a} ↔ {b} ({ab} {a}→{b}, {ba} {b}→{a})"
                                                  for a, b, ab, ba in report["confused_pairs"]))
    if "confusion" in report:  # not beyond metrics.PER_CLASS_LIMIT classes
        typer.echo(f"confusion (rows gold, columns predicted: {', '.join(report['classes'])})")
        for row in report["confusion"]:
            typer.echo("  " + " ".join(f"{n:6d}" for n in row))
    prevalence = report["prevalence"]
    if "left_out" in prevalence:
        typer.echo(prevalence["left_out"])
        return
    typer.echo(f"class shares (gold vs estimated; {_shares_note(prevalence)})")
    typer.echo(summary_table(prevalence["classes"], prevalence, prevalence["true"]).rstrip("\n"))


def _shares_note(block: dict) -> str:
    """Where EM starts from, or why a multi-label run has none."""
    if "train_priors_from" not in block:
        return "multi-label: each class's share of the texts on its own, so no EM"
    return f"EM starts from the training priors: {block['train_priors_from']}"


def _cell(label) -> str:
    """A gold or predicted label for errors.tsv: a multi-label set as a|b (empty: nothing)."""
    return "|".join(map(str, label)) if isinstance(label, (tuple, list)) else label


def _write_errors(path: Path, mistakes: list[dict], names: list[str]) -> int:
    """errors.tsv: one mistake per line; tabs and newlines inside a text become spaces."""
    from sentinet.data.readers import SINGLE_LABEL
    from sentinet.fileio import atomic_open

    # the entity column is SentiRuEval's company; one-label data (TSV, CSV, JSONL) has none
    entity = ["entity"] if any(m["entity"] != SINGLE_LABEL for m in mistakes) else []
    columns = ["id", *entity, "gold", "predicted", "confidence", *(f"p_{n}" for n in names), "text"]
    with atomic_open(path, named=True) as f:
        write_row = writers.row_writer(f, "tsv", columns)
        for m in mistakes:
            write_row([m["id"], *(m[c] for c in entity), _cell(m["gold"]), _cell(m["predicted"]), f"{m['confidence']:.6f}",
                       *(f"{m['probabilities'][n]:.6f}" for n in names), m["text"]])
    return len(mistakes)


def _confusion_png(folder: Path, report: dict, data_file: Path) -> None:
    from sentinet.evaluation.metrics import pairs_noun
    from sentinet.reporting.plots import write_confusion

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "confusion.png"
    notes: list[str] = []
    if write_confusion(path, report.get("confusion"), report["classes"], f"{data_file.name}: confusion",
                       notes.append, pairs_noun(report)):
        typer.echo(f"wrote {path}", err=True)
    for note in notes:
        typer.echo(f"note: {printable(note)}", err=True)


def predict(
    run: Path = typer.Argument(..., help=MODEL_HELP),
    input_file: str = typer.Argument(..., help="Text file (one per line), SentiRuEval XML, TSV, CSV, "
                                     "JSONL, or - for standard input."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output file (default: stdout), "
                                       "written whole at the end; an existing file is replaced (and "
                                       "stderr says so); one of the inputs is refused."),
    output_format: str = typer.Option("csv", "--format", help="csv, tsv (tabs and newlines inside a "
                                      "text become spaces), jsonl, fasttext (__label__x text: labels "
                                      "and text only) or sentirueval."),
    input_format: str = typer.Option("auto", "--input-format",
                                     help="auto (from the extension; txt for -), txt, jsonl, tsv, csv, sentirueval."),
    text_column: str | None = typer.Option(None, help="Text column of TSV/CSV/JSONL input (default: the run's)."),
    id_column: str | None = typer.Option(None, help="Id column of TSV/CSV/JSONL input (default: the run's)."),
    quoting: str | None = typer.Option(None, help="TSV/CSV input quoting: auto (TSV none, CSV quoted), "
                                       "none or quoted (default: the run's data.quoting)."),
    echo: bool = typer.Option(False, "--echo", help="Add each record's text to the output."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    batch_size: int = typer.Option(256, min=1, help="Texts per forward pass (more: faster, more memory)."),
    chunk_size: int = typer.Option(4096, min=1, help="Records read, labelled and written at a time."),
    int8: bool = typer.Option(False, "--int8", help=INT8_HELP),
    summary: bool = typer.Option(False, "--summary", help="Also print each class's share of the input "
                                 "(counted labels, averaged probabilities, EM-adjusted) on stderr."),
    top: int | None = typer.Option(None, "--top", "-k", min=1, metavar="K", help="Write the K most probable "
                                   "classes and their probabilities (label_1, p_1, ...) instead of one "
                                   "column per class: for label sets too large to list."),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    threshold: str | None = typer.Option(None, "--threshold", metavar="P", help="Uncertain rows: a record "
                                         "whose top class probability is below P (0 < P <= 1) gets an "
                                         "empty label (null in JSONL); its probabilities are written as ever. "
                                         "A multi-label run: every class with a probability of at least P, "
                                         "instead of the thresholds chosen on dev."),
    engine: str | None = typer.Option(None, "--engine", metavar="ENGINE", help=ENGINE_HELP),
) -> None:
    """Label every record: id, label and one probability per class. Line formats are
    streamed chunk by chunk, so `-` reads a pipe and big files run in bounded memory."""
    from sentinet.data.delimited import QUOTINGS
    from sentinet.data.readers import DATA_FORMATS, check_readable
    from sentinet.fileio import check_output, replaced_note

    if output_format not in writers.OUTPUT_FORMATS:
        raise SentinetError(f"--format {output_format!r}: choose one of {', '.join(writers.OUTPUT_FORMATS)}")
    if input_format not in ("auto", *DATA_FORMATS):
        raise SentinetError(f"--input-format {input_format!r}: choose one of auto, {', '.join(DATA_FORMATS)}")
    if quoting is not None and quoting not in QUOTINGS:
        raise SentinetError(f"--quoting {quoting!r}: choose one of {', '.join(QUOTINGS)}")
    least = _threshold(threshold)
    stdin = input_file == "-"
    source = 0 if stdin else Path(input_file)
    replaced = output is not None and check_output(output, [source, *run_files(run)])
    if output is None and not stdin:
        _refuse_stdout_on(Path(input_file))
    if not stdin:
        check_readable(Path(input_file))
    fmt = _input_format(input_file, input_format, output_format, output, top)
    if least is not None and output_format == "sentirueval":
        raise SentinetError("--threshold: --format sentirueval fills in -1/0/1 for every company a tweet "
                            "mentions, with no uncertain mark; use csv, tsv or jsonl")
    if top is not None and output_format == "fasttext":
        raise SentinetError("--top: --format fasttext writes the labels and the text only; use csv, tsv or jsonl")
    model = load_model(run, device, int8, threads, engine)
    predictor, kept = model.predictor, [] if summary else None
    d = predictor.config.data
    if predictor.classes.multilabel and output_format == "sentirueval":
        raise SentinetError("--format sentirueval fills in one -1/0/1 label per company; this run is "
                            "multi-label: use csv, tsv, jsonl or fasttext")
    if output_format == "fasttext" and (bad := writers.fasttext_unwritable([str(v) for v in predictor.classes.values])) is not None:
        raise SentinetError(f"--format fasttext: the class {bad[:40]!r} holds a space, which would end "
                            "its __label__ word; use csv, tsv or jsonl")
    row_format = writers.RowFormat(output_format, echo, top, least, d.label_separator or "|")
    columns = {"text_column": text_column or d.text_column, "id_column": id_column or d.id_column,
               "quoting": quoting or d.quoting}
    with streams.reader_may_leave():
        if fmt == "sentirueval":
            count = _predict_xml(predictor, Path(input_file), output, row_format, batch_size, kept)
        else:
            count = _predict_lines(predictor, input_file, fmt, columns, output, row_format, batch_size,
                                   chunk_size, kept)
    if output is not None:
        typer.echo(f"wrote {count} predictions to {output}{replaced_note(replaced)}", err=True)
    if kept is not None:
        _print_summary(model, kept, least)


def _threshold(text: str | None) -> float | None:
    """--threshold as a probability, every bad value (``abc``, ``0``, ``1.5``, ``nan``) refused
    in one line before the model loads."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise SentinetError(f"--threshold {text!r}: give a probability above 0 and at most 1, such as 0.6")
    return value


def _show_progress(output: Path | None) -> bool:
    """A bar on stderr, unless the rows go to the same terminal (they are the progress then,
    and a bar redrawn between them would tear them); tqdm also draws it only on a terminal."""
    import sys

    return output is not None or not sys.stdout.isatty()


def _records_in(input_file: str, fmt: str) -> int | None:
    """The bar's total: a regular file's non-blank lines, less a table's header, when stderr is
    a terminal to show it. Reading ahead costs under half a second a million tweets, little
    beside labelling them; a CSV text holding a line break makes it an upper bound. None (a
    running count and rate instead) for standard input, a pipe, or a file too big to count
    quickly (over COUNT_LIMIT)."""
    import sys

    path = Path(input_file)
    if input_file == "-" or not sys.stderr.isatty() or not path.is_file() or path.stat().st_size > COUNT_LIMIT:
        return None
    with path.open("rb") as f:
        lines = sum(1 for line in f if line.strip())
    return max(lines - (fmt in ("tsv", "csv")), 0)


def _input_format(input_file: str, input_format: str, output_format: str, output: Path | None,
                  top: int | None) -> str:
    """predict's input format (``auto``: txt for -, else the extension's), refused before the
    model loads when --format or --top cannot write predictions for it."""
    from sentinet.data.readers import detect_data_format

    stdin = input_file == "-"
    fmt = input_format if input_format != "auto" else "txt" if stdin else detect_data_format(Path(input_file))
    if output_format == "sentirueval" and (fmt != "sentirueval" or stdin):
        raise SentinetError(f"--format sentirueval needs a SentiRuEval XML input file, got {input_file}")
    if output_format == "sentirueval" and output is None:
        raise SentinetError("--format sentirueval writes XML: give --output FILE")
    if top is not None and output_format == "sentirueval":
        raise SentinetError("--top: --format sentirueval writes one label per company; use csv, tsv or jsonl")
    return fmt


def _predict_lines(predictor: Predictor, input_file: str, fmt: str, columns: dict[str, str],
                   output: Path | None, row_format: writers.RowFormat, batch_size: int, chunk_size: int,
                   kept: list | None) -> int:
    """A line format (txt, jsonl, tsv, csv), file or pipe: read, labelled and written a chunk at
    a time, so memory stays bounded however long the input."""
    with streams.input_stream(input_file) as stream, streams.output_stream(output) as out:
        from sentinet.data.readers import stream_records

        lines = streams.CountedLines(stream)
        name = "<stdin>" if input_file == "-" else input_file
        records = streams.not_empty(stream_records(lines, fmt, name, **columns), lines, name, fmt)
        bar = _show_progress(output)
        total = _records_in(input_file, fmt) if bar else None
        return writers.write_predictions(predictor, records, out, row_format, batch_size, chunk_size, kept,
                                         bar, total)


def _print_summary(model, kept: list, threshold: float | None) -> None:
    """--summary: the input's class shares by the three estimators, on stderr (stdout holds rows).
    The shares are of every text (an estimate of the whole input, which --threshold does not
    change); with --threshold a last line says how many rows were written uncertain."""
    import numpy as np

    from sentinet.evaluation.prevalence import summary_table

    probs = np.concatenate(kept) if kept else np.zeros((0, len(model.classes)))
    block = model.prevalence_of(probs)
    if "left_out" in block:
        typer.echo(block["left_out"], err=True)
    else:
        typer.echo(f"class shares of {block['texts']} texts ({_shares_note(block)}; see "
                   "docs/GUIDE.md#share-of-voice for which to trust):", err=True)
        typer.echo(summary_table(block["classes"], block).rstrip("\n"), err=True)
    if threshold is not None:
        uncertain = sum(writers.is_uncertain(top, threshold) for top in probs.max(axis=1))
        typer.echo(f"uncertain: {uncertain} of {len(probs)} texts have a top probability below "
                   f"{threshold:g} (written with an empty label; the shares count every text)", err=True)


def _refuse_stdout_on(input_path: Path) -> None:
    """``predict RUN in.txt >> in.txt`` would read its own output forever (GNU cat refuses too)."""
    from sentinet.fileio import same_file

    if same_file(1, input_path):
        raise SentinetError(f"{input_path}: standard output is the input file; write elsewhere")


def _predict_xml(predictor: Predictor, input_file: Path, output: Path | None, row_format: writers.RowFormat,
                 batch_size: int, kept: list | None) -> int:
    """SentiRuEval XML is one document: read whole, labelled whole, written whole."""
    from sentinet.data.readers import read_records
    from sentinet.data.sentirueval_xml import write_sentirueval

    records = read_records(input_file, "sentirueval")  # XML: no columns to choose
    if row_format.format == "sentirueval":
        roles = predictor.classes.sentiment
        if roles is None:
            raise SentinetError(f"--format sentirueval writes -1/0/1: {predictor.path} predicts "
                                f"{list(predictor.classes.values)}")
        as_sentiment = {predictor.classes.values[i]: role for role, i in roles.items()}
        probs = predictor.predict_proba([r.text for r in records], batch_size)
        if kept is not None:
            kept.append(probs)
        labels = predictor.labels(probs)
        write_sentirueval(input_file, {r.id: as_sentiment[y] for r, y in zip(records, labels)}, output)
        return len(records)
    with streams.output_stream(output) as out:
        return writers.write_predictions(predictor, iter(records), out, row_format, batch_size, 4096, kept,
                                         _show_progress(output), len(records))


def explain(
    run: Path = typer.Argument(..., help="Run or ensemble directory (or a run's model.pt, or an export archive)."),
    text: str = typer.Argument(..., help="The text to explain (- reads it from standard input)."),
    method: str = typer.Option("occlusion", "--method", help="occlusion (the probability lost when a "
                               "token becomes <unk>) or ig (integrated gradients on the word vectors; "
                               "attributions sum to the logit difference)."),
    html_out: Path | None = typer.Option(None, "--html", help="Also write a page with each word "
                                         "coloured by its contribution."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    target_class: str | None = typer.Option(None, "--class", metavar="CLASS", help="Explain this class "
                                            "(a label or class name) instead of the predicted one; a "
                                            "multi-label run explains its most probable class by default."),
) -> None:
    """Why a text got its label: each token's contribution to the predicted class."""
    import sys

    from sentinet.api import EXPLAIN_METHODS
    from sentinet.fileio import atomic_write_text, check_output, replaced_note

    if method not in EXPLAIN_METHODS:
        raise SentinetError(f"--method {method!r}: choose occlusion or ig")
    if text == "-":
        text = sys.stdin.read().strip()
    if not text.strip():
        raise SentinetError("explain: the text is empty")
    replaced = html_out is not None and check_output(html_out, run_files(run))
    model = load_model(run, device)
    from sentinet.inference.explain import format_table, render_html

    explanation = model.explain(text, method, target_class)
    if html_out is not None:
        atomic_write_text(html_out, render_html(explanation), named=True)
        typer.echo(f"wrote {html_out}{replaced_note(replaced)}", err=True)
    if json_output:
        typer.echo(json.dumps(explanation.to_dict(), ensure_ascii=False))
    else:
        typer.echo(format_table(explanation))
