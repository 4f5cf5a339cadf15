"""Command line: ``sentinet train | baseline | tune | ensemble | eval | predict | serve | export | report``, with the
``config`` and ``embeddings`` tool groups from sentinet.cli_tools.

Every user-facing problem is a ``SentinetError``: printed as one ``error:`` line on stderr,
exit code 2, no traceback.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import typer

from sentinet import outputs
from sentinet.cli_compare import baseline, ensemble, tune, with_baseline
from sentinet.cli_tools import config_app, embeddings_app
from sentinet.errors import Interrupted, SentinetError
from sentinet.threads import quiet_spin

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Sentiment classification of short texts over frozen word vectors.",
)



def _print_version(value: bool) -> None:
    if value:
        from sentinet.provenance import versions

        typer.echo(" ".join(f"{k} {v}" for k, v in versions().items() if v))
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the sentinet, torch and Python versions and exit."),
) -> None:
    """Sentiment classification of short texts over frozen word vectors."""


INT8_HELP = ("Dynamic int8 recurrent and linear layers (CPU): faster, probabilities within ~1e-2 "
             "of the float model's.")


@app.command()
def train(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config file."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set train.epochs=5"),
    resume: Path | None = typer.Option(None, "--resume", help="Continue an interrupted run directory "
                                       "from its last.pt (with its own config.yaml)."),
    device: str | None = typer.Option(None, help="auto, cpu, cuda or cuda:N (overrides train.device)."),
    output_dir: Path | None = typer.Option(None, help="Where run directories go (overrides run.output_dir)."),
    seeds: int = typer.Option(1, min=1, help="Train N seeds and write an ensemble of them too."),
    folds: int = typer.Option(0, min=0, help="k-fold cross-validation (data.split: random, grouped "
                              "or temporal folds): mean ± std, out-of-fold score, fold ensemble."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check config, data and vectors, build the "
                                 "model, and stop before training (nothing is written)."),
) -> None:
    """Train a model; the best epoch on dev F-macro is kept in runs/<name>-<time>/."""
    from sentinet.config import check_folds, load_config
    from sentinet.models import ENCODER_OPTIONS
    from sentinet.ensemble import cross_validate, train_ensemble
    from sentinet.training import train as run_training

    if folds and seeds > 1:
        raise SentinetError("--folds and --seeds: choose one (for seeds of folds, run --folds once per train.seed)")
    check_folds(folds, "--folds")
    if resume is not None:
        if config or overrides or seeds > 1 or folds or output_dir or dry_run:
            raise SentinetError("--resume continues a run as it was configured: give only the run "
                                "directory (and --device)")
        from sentinet.ensemble import resume_group
        from sentinet.rundir import is_group

        if is_group(resume):
            _echo_group(resume_group(resume, device))
            return
        cfg = _resumable_config(resume, device)
        result = run_training(cfg, resume=resume)
        with_baseline(cfg, result.best["f_macro"], "neural")
        typer.echo(f"{result.run_dir}\tdev F-macro {result.best['f_macro']:.4f}\t"
                   f"F-micro {result.best['f_micro']:.4f}\tbest epoch {result.best_epoch}")
        return
    if config is None:
        raise SentinetError("train needs --config FILE (or --resume RUN_DIR)")
    cfg = load_config(config, overrides, ENCODER_OPTIONS)
    if device:
        cfg.train.device = device
    if output_dir:
        cfg.run.output_dir = str(output_dir)
    if dry_run:
        run_training(cfg, dry_run=True)
        typer.echo("dry run: config, data and vectors are fine; nothing was written")
        return
    if folds:
        if cfg.data.dev:
            raise SentinetError("--folds: data.dev names a dev file; folds are carved from data.train")
        if cfg.train.baseline:
            typer.echo("note: train.baseline is not fitted with --folds (it would score another dev "
                       f"set); sentinet baseline --config {config} scores the configured split", err=True)
        _echo_group(cross_validate(cfg, folds))
        return
    if seeds > 1:
        group = train_ensemble(cfg, seeds)
        with_baseline(cfg, group.summary["ensemble"]["f_macro"], f"neural ({seeds}-seed ensemble)")
        _echo_group(group)
        return
    result = run_training(cfg)
    with_baseline(cfg, result.best["f_macro"], "neural")
    typer.echo(f"{result.run_dir}\tdev F-macro {result.best['f_macro']:.4f}\t"
               f"F-micro {result.best['f_micro']:.4f}\tbest epoch {result.best_epoch}")


def _echo_group(group) -> None:
    fm, e = group.summary["f_macro"], group.summary["ensemble"]
    folds = group.summary.get("folds")
    members = f"{folds} folds\tout-of-fold" if folds else f"{len(group.members)} seeds\tensemble"
    typer.echo(f"{group.path}\tdev F-macro {fm['mean']:.4f} ± {fm['std']:.4f} over {members} "
               f"F-macro {e['f_macro']:.4f}\tF-micro {e['f_micro']:.4f}")


# The commands that compare models live in sentinet.cli_compare.
app.command()(baseline)
app.command()(tune)
app.command()(ensemble)


@app.command("eval")
def evaluate(
    run: Path = typer.Argument(..., help="Run or ensemble directory (or a run's model.pt)."),
    data_file: Path = typer.Argument(..., help="Labelled data: SentiRuEval XML, TSV, CSV or JSONL."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    batch_size: int = typer.Option(256, min=1),
    int8: bool = typer.Option(False, "--int8", help=INT8_HELP),
) -> None:
    """Score a trained model: the official SentiRuEval F-macro / F-micro for SentiRuEval
    labels (macro-F1 for any other label set), and a per-class report."""
    from sentinet.labels import require_labels
    from sentinet.data.readers import check_readable

    check_readable(data_file)  # before the model: a typo should not cost a model load
    predictor = _load_predictor(run, device, int8)
    from sentinet.inference import evaluate as run_eval

    records = _read(data_file, predictor)
    require_labels(records, str(data_file))
    report = run_eval(predictor, [r for r in records if r.labels], batch_size, str(data_file))
    if json_output:
        typer.echo(json.dumps({"run": str(predictor.path), "data": str(data_file), **report},
                              ensure_ascii=False))
        return
    typer.echo(f"{data_file}: {report['pairs']} scored (tweet, company) pairs")
    if "f_pos" in report:  # the official metric: SentiRuEval labels
        typer.echo(f"F-macro {report['f_macro']:.4f}  F-micro {report['f_micro']:.4f}  "
                   f"F1+ {report['f_pos']:.4f}  F1- {report['f_neg']:.4f}  "
                   f"macro-F1 (all classes) {report['macro_f1']:.4f}")
    else:
        typer.echo(f"macro-F1 {report['macro_f1']:.4f}  accuracy {report['accuracy']:.4f}")
    typer.echo(report["report"])
    if "confusion" not in report:  # too many classes for a matrix (metrics.PER_CLASS_LIMIT)
        return
    typer.echo(f"confusion (rows gold, columns predicted: {', '.join(report['classes'])})")
    for row in report["confusion"]:
        typer.echo("  " + " ".join(f"{n:6d}" for n in row))


@app.command()
def predict(
    run: Path = typer.Argument(..., help="Run or ensemble directory (or a run's model.pt)."),
    input_file: str = typer.Argument(..., help="Text file (one per line), SentiRuEval XML, TSV, CSV, "
                                     "JSONL, or - for standard input."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output file (default: stdout), "
                                       "written whole at the end; an existing file is replaced (and "
                                       "stderr says so); one of the inputs is refused."),
    output_format: str = typer.Option("csv", "--format", help="csv, tsv (tabs and newlines inside a "
                                      "text become spaces), jsonl or sentirueval."),
    input_format: str = typer.Option("auto", "--input-format",
                                     help="auto (from the extension; txt for -), txt, jsonl, tsv, csv, sentirueval."),
    text_column: str | None = typer.Option(None, help="Text column of TSV/CSV/JSONL input (default: the run's)."),
    id_column: str | None = typer.Option(None, help="Id column of TSV/CSV/JSONL input (default: the run's)."),
    quoting: str | None = typer.Option(None, help="TSV/CSV input quoting: auto (TSV none, CSV quoted), "
                                       "none or quoted (default: the run's data.quoting)."),
    echo: bool = typer.Option(False, "--echo", help="Add each record's text to the output."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    batch_size: int = typer.Option(256, min=1),
    chunk_size: int = typer.Option(4096, min=1, help="Records read, labelled and written at a time."),
    int8: bool = typer.Option(False, "--int8", help=INT8_HELP),
) -> None:
    """Label every record: id, label and one probability per class. Line formats are
    streamed chunk by chunk, so `-` reads a pipe and big files run in bounded memory."""
    from sentinet.data.readers import DATA_FORMATS, QUOTINGS, check_readable, detect_data_format
    from sentinet.fileio import check_output, replaced_note

    if output_format not in outputs.OUTPUT_FORMATS:
        raise SentinetError(f"--format {output_format!r}: choose one of {', '.join(outputs.OUTPUT_FORMATS)}")
    if input_format not in ("auto", *DATA_FORMATS):
        raise SentinetError(f"--input-format {input_format!r}: choose one of auto, {', '.join(DATA_FORMATS)}")
    if quoting is not None and quoting not in QUOTINGS:
        raise SentinetError(f"--quoting {quoting!r}: choose one of {', '.join(QUOTINGS)}")
    stdin = input_file == "-"
    source = 0 if stdin else Path(input_file)
    replaced = output is not None and check_output(output, [source, *_run_files(run)])
    if output is None and not stdin:
        _refuse_stdout_on(Path(input_file))
    if not stdin:
        check_readable(Path(input_file))
    fmt = input_format if input_format != "auto" else "txt" if stdin else detect_data_format(Path(input_file))
    if output_format == "sentirueval" and (fmt != "sentirueval" or stdin):
        raise SentinetError(f"--format sentirueval needs a SentiRuEval XML input file, got {input_file}")
    if output_format == "sentirueval" and output is None:
        raise SentinetError("--format sentirueval writes XML: give --output FILE")
    predictor = _load_predictor(run, device, int8)
    d = predictor.config.data
    columns = {"text_column": text_column or d.text_column, "id_column": id_column or d.id_column,
               "quoting": quoting or d.quoting}
    if fmt == "sentirueval":
        count = _predict_xml(predictor, Path(input_file), output, output_format, echo, batch_size)
    else:
        with outputs.input_stream(input_file) as stream, outputs.output_stream(output) as out:
            from sentinet.data.readers import stream_records

            records = stream_records(stream, fmt, "<stdin>" if stdin else input_file, **columns)
            count = outputs.write_predictions(predictor, records, out, output_format, echo, batch_size, chunk_size)
    if output is not None:
        typer.echo(f"wrote {count} predictions to {output}{replaced_note(replaced)}", err=True)


def _run_files(run: Path) -> list[Path]:
    """What predict and export read from a run: the path given and its run directory's files
    (a run's model.pt stands for its directory, as it does for loading)."""
    from sentinet.rundir import READ_BY_INFERENCE

    folder = run if run.is_dir() else run.parent if run.suffix == ".pt" else None
    names = READ_BY_INFERENCE if folder else ()
    return [run, *(folder / name for name in names)]


def _refuse_stdout_on(input_path: Path) -> None:
    """``predict RUN in.txt >> in.txt`` would read its own output forever (GNU cat refuses too)."""
    from sentinet.fileio import same_file

    if same_file(1, input_path):
        raise SentinetError(f"{input_path}: standard output is the input file; write elsewhere")


def _load_predictor(run: Path, device: str, int8: bool = False):
    """A run loaded for inference (eval, predict, serve) — a ``sentinet baseline`` run without
    torch — with two measures for speed:

    - torch's idle CPU threads spin briefly, then sleep: main() set that for every command
      (sentinet/threads.py says why);
    - no garbage collection while torch and the model load (importing torch makes objects by
      the hundred thousand, and each collection walks them all); then what was loaded is
      frozen out of every later collection, the one at exit included: ~0.3 s CPU less.
    """
    from sentinet.baseline import BaselinePredictor, is_baseline

    if is_baseline(run):  # scikit-learn only: no torch to load, no device to use
        if int8:
            raise SentinetError(f"--int8: {run} is a linear baseline; it has no neural layers to quantise")
        return BaselinePredictor.load(run)
    collecting = gc.isenabled()
    gc.disable()
    try:
        from sentinet.inference import Predictor

        return Predictor.load(run, _device(device), int8)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _predict_xml(predictor, input_file: Path, output: Path | None, output_format: str, echo: bool,
                 batch_size: int) -> int:
    """SentiRuEval XML is one document: read whole, labelled whole, written whole."""
    from sentinet.data.readers import write_sentirueval

    records = _read(input_file, predictor, "sentirueval")
    if output_format == "sentirueval":
        roles = predictor.classes.sentiment
        if roles is None:
            raise SentinetError(f"--format sentirueval writes -1/0/1: {predictor.path} predicts "
                                f"{list(predictor.classes.values)}")
        as_sentiment = {predictor.classes.values[i]: role for role, i in roles.items()}
        probs = predictor.predict_proba([r.text for r in records], batch_size)
        labels = predictor.labels(probs)
        write_sentirueval(input_file, {r.id: as_sentiment[y] for r, y in zip(records, labels)}, output)
        return len(records)
    with outputs.output_stream(output) as out:
        return outputs.write_predictions(predictor, iter(records), out, output_format, echo, batch_size, 4096)


@app.command()
def serve(
    run: Path = typer.Argument(..., help="Run or ensemble directory (or a run's model.pt)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535),
    max_texts: int = typer.Option(1000, min=1, help="Most texts in one request (413 above)."),
    max_bytes: int = typer.Option(1_000_000, min=1, help="Largest request body in bytes (413 above)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    int8: bool = typer.Option(False, "--int8", help=INT8_HELP),
) -> None:
    """An HTTP API over a run: GET /health, POST /predict {"texts": [...]} (the serve extra)."""
    from sentinet.serve import require_extra, run_server

    require_extra()
    predictor = _load_predictor(run, device, int8)
    typer.echo(f"serving {predictor.path} on http://{host}:{port} (POST /predict, GET /health)", err=True)
    run_server(predictor, host, port, max_texts, max_bytes)


@app.command("export")
def export_run(
    run: Path = typer.Argument(..., help="Run or ensemble directory."),
    out: Path | None = typer.Argument(None, help="The archive to write (.tar.gz); optional with --onnx."),
    onnx: Path | None = typer.Option(None, "--onnx", help="Also write the run as an ONNX graph "
                                     "(ids, lengths → probabilities) and PATH.json beside it (the onnx extra)."),
    vocab_size: int = typer.Option(50_000, min=0, help="Bundle the vectors of this many of the "
                                   "vectors file's first words, for words unseen in training."),
) -> None:
    """One self-contained .tar.gz (weights, vocabulary, config, vectors for unseen words) that
    eval and predict take on another machine, without the original vectors file; and/or, with
    --onnx, an ONNX graph for serving stacks."""
    from sentinet.export import export
    from sentinet.fileio import check_output, replaced_note
    from sentinet.rundir import BASELINE_JSON

    if (run / BASELINE_JSON).is_file():
        raise SentinetError(f"{run}: baseline runs are not exported yet (copy the run directory instead)")
    if out is None and onnx is None:
        raise SentinetError("nothing to write: give the archive (OUT.tar.gz), --onnx PATH.onnx, or both")
    replaced = check_output(out, _run_files(run)) if out is not None else False
    if onnx is not None:
        from sentinet.onnx_export import check_target

        check_target(run, onnx)  # before the archive, so a bad --onnx leaves nothing written
        check_output(onnx, _run_files(run))
    if out is not None:
        count = export(run, out, vocab_size)
        typer.echo(f"wrote {out} ({count} run{'s' if count > 1 else ''}, {out.stat().st_size / 1e6:.1f} MB)"
                   f"{replaced_note(replaced)}", err=True)
    if onnx is not None:
        from sentinet.onnx_export import export_onnx, metadata_path

        meta = export_onnx(run, onnx, vocab_size)
        typer.echo(f"wrote {onnx} ({onnx.stat().st_size / 1e6:.1f} MB) and {metadata_path(onnx).name} "
                   f"({len(meta['vocab'])} words, classes {', '.join(meta['classes'])})", err=True)


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., help="Run or ensemble directories."),
    markdown: bool = typer.Option(False, "--md", help="A Markdown table."),
) -> None:
    """Runs side by side: the config keys that differ, best dev scores, training time."""
    from sentinet.report import compare, render

    header, rows = compare(runs)
    typer.echo(render(header, rows, markdown), nl=False)


app.add_typer(config_app, name="config")
app.add_typer(embeddings_app, name="embeddings")


def _resumable_config(run_dir: Path, device: str | None):
    """The config a run directory was trained with, checked before anything else happens.
    An incomplete run without last.pt (stopped before its first checkpoint) starts over."""
    from sentinet.artifacts import read_config
    from sentinet.baseline import FITTING, is_baseline
    from sentinet.rundir import CONFIG, LAST, status

    if not (run_dir / CONFIG).is_file():
        raise SentinetError(f"{run_dir}: not a sentinet run directory (no {CONFIG})")
    if is_baseline(run_dir) or status(run_dir) == FITTING:
        raise SentinetError(f"{run_dir}: a baseline run has nothing to resume; run sentinet baseline again")
    if not (run_dir / LAST).is_file() and status(run_dir) is None:
        raise SentinetError(f"{run_dir}: no {LAST} to resume from")
    cfg = read_config(run_dir / CONFIG)
    if device:
        cfg.train.device = device
    return cfg


def _device(spec: str):
    from sentinet.device import resolve_device

    return resolve_device(spec)


def _read(path: Path, predictor, format: str = "auto"):
    """Records of any supported format, with the column names and quoting the run was trained with."""
    from sentinet.data.readers import read_records

    d = predictor.config.data
    return read_records(path, format, text_column=d.text_column, label_column=d.label_column,
                        id_column=d.id_column, quoting=d.quoting)


def main() -> None:
    quiet_spin()  # before anything imports torch: OpenMP reads it once
    try:
        app()  # typer turns a Ctrl-C outside training into exit code 130 itself
    except Interrupted as stop:  # Ctrl-C during training, after the run was made usable
        typer.echo(f"interrupted: {stop}", err=True)
        raise SystemExit(130) from None
    except SentinetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except OSError as exc:
        typer.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
