"""Command line: ``sentinet train | baseline | tune | ensemble | distill | eval | predict | serve | export | report``, with the
``config`` and ``embeddings`` tool groups from sentinet.cli.tools.

Every user-facing problem is a ``SentinetError``: printed as one ``error:`` line on stderr,
exit code 2, no traceback.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sentinet.cli.common import MODEL_HELP, TAB, config_as_option, load_model, run_files
from sentinet.cli.compare import baseline, distill, ensemble, tune
from sentinet.cli.infer import INT8_HELP, THREADS_HELP, evaluate, explain, predict
from sentinet.cli.tools import MIRROR_HELP, config_app, data_app, embeddings_app
from sentinet.errors import Interrupted, SentinetError, printable, shortened
from sentinet.runtime.signals import stop_on_sigterm
from sentinet.runtime.threads import quiet_spin

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, like git's: no boxes, no "<bool>" after flags, lines wrapped whole
    help="Sentiment classification of short texts over frozen word vectors.",
)


def _print_version(value: bool) -> None:
    if value:
        from sentinet.runs.provenance import versions

        typer.echo(" ".join(f"{k} {v}" for k, v in versions().items() if v))
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the sentinet, torch and Python versions and exit."),
) -> None:
    """Sentiment classification of short texts over frozen word vectors."""


@app.command(short_help="Train a model (or --seeds / --folds groups); keep the best epoch.")
def train(
    stray: list[str] | None = typer.Argument(None, hidden=True),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config file."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set train.epochs=5"),
    resume: Path | None = typer.Option(None, "--resume", help="Continue an interrupted run directory "
                                       "from its last.pt (with its own config.yaml)."),
    device: str | None = typer.Option(None, help="auto, cpu, cuda or cuda:N (overrides train.device)."),
    output_dir: Path | None = typer.Option(None, help="Where run directories go (overrides run.output_dir)."),
    run_dir: Path | None = typer.Option(None, "--run-dir", help="The run (or --seeds/--folds group) directory "
                                        "exactly, instead of <output-dir>/<name>-<time>: a new or empty folder."),
    seeds: int = typer.Option(1, min=1, help="Train N seeds and write an ensemble of them too."),
    folds: int = typer.Option(0, min=0, help="k-fold cross-validation (data.split: random, grouped "
                              "or temporal folds): mean ± std, out-of-fold score, fold ensemble."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check config, data and vectors, build the "
                                 "model, and stop before training (nothing is written)."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads for torch (sets "
                                       "train.num_threads; default: the cores other processes leave free)."),
) -> None:
    """Train a model; the best epoch by dev score (train.metric) is kept in runs/<name>-<time>/."""
    # Arguments and the config are checked before anything imports torch (a typo should not
    # wait for it): sentinet.training.workflows plans without torch, then trains.
    config_as_option("train", stray)
    from sentinet.training.workflows import train_workflow

    trained = train_workflow(config, overrides, seeds=seeds, folds=folds, resume=resume, dry_run=dry_run,
                             output_dir=output_dir, device=device or None, threads=threads, run_dir=run_dir,
                             on_note=lambda note: typer.echo(f"note: {note}", err=True))
    if trained.result is None:
        typer.echo("dry run: config, data and vectors are fine; nothing was written")
        return
    if trained.baseline is not None:  # the neural run's line still comes last
        _echo_baseline(trained.baseline)
    from sentinet.training.groups import EnsembleResult

    if isinstance(trained.result, EnsembleResult):
        _echo_group(trained.result)
    else:
        _echo_run(trained.result)


def _echo_run(result) -> None:
    """The last line of a training run: its directory and best dev scores, tab-separated."""
    from sentinet.evaluation.metrics import headline

    typer.echo(f"{result.run_dir}\tdev {headline(result.best, sep=TAB)}\tbest epoch {result.best_epoch}")


def _echo_group(group) -> None:
    from sentinet.evaluation.metrics import headline, metric_name, score_of

    summary = group.summary
    folds = summary.get("folds")
    members = f"{folds} folds\tout-of-fold" if folds else f"{len(group.members)} seeds\tensemble"
    typer.echo(f"{group.path}\tdev {metric_name(summary)} {score_of(summary):.4f} ± {summary['score']['std']:.4f} "
               f"over {members} {headline(summary['ensemble'], sep=TAB)}")


def _echo_baseline(compared) -> None:
    """train.baseline: the baseline run's line, then both dev scores side by side."""
    from sentinet.evaluation.metrics import headline, metric_name

    best, neural = compared.fitted.report, compared.neural
    typer.echo(f"{compared.run_dir}\tbaseline dev {headline(best, sep=TAB)}\tC {compared.fitted.C:g}")
    typer.echo(f"dev {metric_name(best)}: {compared.what} {neural:.4f} vs baseline {compared.score:.4f} "
               f"({neural - compared.score:+.4f})")


# The commands that compare models live in sentinet.cli.compare.
app.command(short_help="TF-IDF + logistic regression on the same split: the bar to beat.")(baseline)
app.command(short_help="Search hyperparameters with Optuna (resumable).")(tune)
app.command(short_help="Average runs trained apart into one ensemble directory.")(ensemble)
app.command(short_help="Train one run on an ensemble's probabilities: its quality, one model's cost.")(distill)


# eval, predict and explain live in sentinet.cli.infer.
app.command("eval", short_help="Score a model on labelled data: every score, mistakes, class shares.")(evaluate)
app.command(short_help="Label every line or record, with per-class probabilities.")(predict)
app.command(short_help="Each token's contribution to a text's label (table, JSON or HTML).")(explain)


@app.command(short_help="An HTTP API over a run: /health, /predict, /explain.")
def serve(
    run: Path = typer.Argument(..., help=MODEL_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    max_texts: int = typer.Option(1000, min=1, help="Most texts in one request (413 above)."),
    max_bytes: int = typer.Option(1_000_000, min=1, help="Largest request body in bytes (413 above)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    int8: bool = typer.Option(False, "--int8", help=INT8_HELP),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="One line per request on "
                                    "stderr (client, method, path, status)."),
    read_timeout: str = typer.Option("10", "--read-timeout", metavar="SECONDS", help="Close a connection "
                                     "that has not sent a whole request (headers and body) in this long."),
    max_connections: str = typer.Option("256", "--max-connections", metavar="N", help="Most connections "
                                        "open at once (fewer if ulimit -n says so); one more closes the "
                                        "one waiting longest for its request."),
    allow_host: list[str] = typer.Option([], "--allow-host", metavar="NAME", help="Answer only requests "
                                         "whose Host header is NAME (repeatable; *.example.com for "
                                         "subdomains): against DNS rebinding. Default: any Host."),
) -> None:
    """An HTTP API over a run: GET /health, POST /predict {"texts": [...]}, POST /explain
    {"text": "..."} (the serve extra)."""
    from sentinet.serving.server import bind_socket, require_extra, run_server, start_listening
    from sentinet.serving.guard import serve_limits

    limits = serve_limits(read_timeout, max_connections, allow_host)
    require_extra()
    if not run.exists():  # a mistyped run is the first thing to say, even with the port taken too
        raise SentinetError(f"{run}: no such run directory, model file or export archive")
    with bind_socket(host, port) as sock:  # a busy port is said before the model loads
        model = load_model(run, device, int8, threads)
        try:
            start_listening(sock, host, port)
            typer.echo(f"serving {model.path} on http://{host}:{port} (POST /predict, POST /explain, "
                       f"GET /health)", err=True)
            run_server(model, sock, max_texts, max_bytes, access_log, limits)
        finally:  # SIGTERM included (the CLI exits 143): an unpacked export archive is removed
            model.close()


@app.command("export", short_help="A self-contained .tar.gz of a run, and/or an ONNX graph.")
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
    from sentinet.fileio import check_output, replaced_note
    from sentinet.runs.rundir import BASELINE_JSON

    if not run.is_dir():
        raise SentinetError(f"{run}: no such run or ensemble directory")
    if (run / BASELINE_JSON).is_file():
        raise SentinetError(f"{run}: baseline runs are not exported yet (copy the run directory instead)")
    if out is None and onnx is None:
        raise SentinetError("nothing to write: give the archive (OUT.tar.gz), --onnx PATH.onnx, or both")
    replaced = check_output(out, run_files(run)) if out is not None else False
    if onnx is not None:
        from sentinet.runs.onnx import check_target

        check_target(run, onnx)  # before the archive, so a bad --onnx leaves nothing written
        check_output(onnx, run_files(run))
    if out is not None:
        from sentinet.runs.export import export

        count, notes = export(run, out, vocab_size)
        for note in notes:
            typer.echo(f"note: {printable(note)}", err=True)
        typer.echo(f"wrote {out} ({count} run{'s' if count > 1 else ''}, {out.stat().st_size / 1e6:.1f} MB)"
                   f"{replaced_note(replaced)}", err=True)
    if onnx is not None:
        from sentinet.runs.onnx import export_onnx, metadata_path

        meta = export_onnx(run, onnx, vocab_size)
        if "not_in_graph" in meta:
            typer.echo(f"note: {meta['not_in_graph']}", err=True)
        typer.echo(f"wrote {onnx} ({onnx.stat().st_size / 1e6:.1f} MB) and {metadata_path(onnx).name} "
                   f"({len(meta['vocab'])} words, classes {', '.join(meta['classes'])})", err=True)


@app.command(short_help="Runs side by side: differing config keys, dev scores, time.")
def report(
    runs: list[Path] = typer.Argument(..., help="Run or ensemble directories."),
    markdown: bool = typer.Option(False, "--md", help="A Markdown table."),
) -> None:
    """Runs side by side: the config keys that differ, best dev scores, training time."""
    from sentinet.reporting.report import compare, render, select_runs

    chosen, notes = select_runs(runs)
    for note in notes:
        typer.echo(f"note: {printable(note)}", err=True)
    header, rows = compare(chosen)
    typer.echo(render(header, rows, markdown), nl=False)


@app.command(short_help="Find every file a config names; download the known ones that are missing.")
def fetch(
    stray: list[str] | None = typer.Argument(None, hidden=True),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config file."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set data.train=other.xml"),
    mirror: str | None = typer.Option(None, "--mirror", metavar="URL", help=MIRROR_HELP),
) -> None:
    """What `make train` runs before training: each data and vector file is looked for where
    training looks; a missing one that sentinet knows (the SentiRuEval-2016 files, navec) is
    downloaded and verified, any other missing file is an error naming where it looked."""
    config_as_option("fetch", stray)
    if config is None:
        raise SentinetError("fetch needs --config FILE")
    from sentinet.api import fetch as fetch_files
    from sentinet.downloads.fetch import Fetched

    for key, found in fetch_files(config, overrides, mirror):
        typer.echo(f"{key}: {found.line() if isinstance(found, Fetched) else f'found  {found}'}")


app.add_typer(config_app, name="config")
app.add_typer(embeddings_app, name="embeddings")
app.add_typer(data_app, name="data")


def main() -> None:
    quiet_spin()  # before anything imports torch: OpenMP reads it once
    terminated = stop_on_sigterm()  # SIGTERM stops a run like a Ctrl-C; the exit code is then 143
    try:
        command = typer.main.get_command(app)
        _name_values(command)
        command(prog_name="sentinet")  # click turns a Ctrl-C outside training into exit code 130 itself
    except Interrupted as stop:  # Ctrl-C (or SIGTERM) during training, after the run was made usable
        typer.echo(f"interrupted: {printable(str(stop))}", err=True)
        raise SystemExit(143 if terminated() else 130) from None
    except SentinetError as exc:
        typer.echo(f"error: {shortened(printable(str(exc)))}", err=True)
        raise SystemExit(2) from None
    except OSError as exc:
        typer.echo(shortened(printable(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))), err=True)
        raise SystemExit(2) from None
    except SystemExit as done:
        if terminated():
            raise SystemExit(143) from None
        raise done


# How --help names the values of options whose parameter name says less than this.
VALUE_NAMES = {"config": "FILE", "overrides": "KEY=VALUE", "resume": "RUN_DIR", "output_dir": "DIR", "run_dir": "DIR",
               "output": "FILE", "space": "FILE"}


def _name_values(command) -> None:
    """``--config FILE``, ``RUN``: every value in --help named after what it is, where typer
    would print its type (``<path>``, ``<int range>``) and braces (``{run}``)."""
    for param in command.params:
        if getattr(param, "hidden", False):  # e.g. train's stray positional config: not in the usage line
            param.get_usage_pieces = lambda ctx: []
            continue
        if getattr(param, "is_flag", False) or param.metavar is not None:
            continue
        param.metavar = VALUE_NAMES.get(param.name, param.name.upper())
        if param.param_type_name == "argument":  # usage "RUN [OUT]", not "{RUN} [OUT]"; no "<path>"
            name = param.metavar + ("..." if param.nargs != 1 else "")
            param._usage_display_name = lambda name=name, required=param.required: name if required else f"[{name}]"
            param.display_type_rich = lambda ctx: ""
    for sub in getattr(command, "commands", {}).values():
        _name_values(sub)


if __name__ == "__main__":
    main()
