"""The commands that compare or combine models (``sentinet baseline | tune | ensemble | distill``);
sentinet.cli.main registers them beside the others."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from sentinet.cli.common import TAB
from sentinet.errors import SentinetError, printable


def baseline(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config file: the run whose "
                                       "data, dev split, labels and tokenizer the baseline uses."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set data.split=temporal"),
    output_dir: Path | None = typer.Option(None, help="Where run directories go (overrides run.output_dir)."),
) -> None:
    """TF-IDF word and character n-grams + logistic regression (C chosen on dev) on exactly
    the config's data, split and labels: what the deep model has to beat. Writes
    runs/<name>-baseline-<time>/, which eval, predict, serve and report take like a run."""
    from sentinet.baseline import fit, write
    from sentinet.config.schema import load_config
    from sentinet.evaluation.metrics import all_scores, headline, metric_name, pairs_noun

    if config is None:
        raise SentinetError("baseline needs --config FILE")
    cfg = load_config(config, overrides)
    if output_dir:
        cfg.run.output_dir = str(output_dir)
    result = fit(cfg)
    run_dir, best = write(result), result.report
    for row in result.grid:
        typer.echo(f"C {row['C']:g}\tdev {headline(row, sep=TAB)}")
    typer.echo(f"chosen C {result.C:g} (best dev {metric_name(best)}; ties go to the smaller C)")
    typer.echo(f"dev: {best['pairs']} scored {pairs_noun(best)}  {all_scores(best)}")
    typer.echo(best["report"].rstrip("\n"))
    typer.echo(f"{run_dir}\tdev {headline(best, sep=TAB)}\tC {result.C:g}")


def tune(
    config: Path = typer.Option(..., "--config", "-c", help="Base YAML config."),
    space: Path = typer.Option(..., "--space", help="Search space YAML: config key → "
                               "{type: int|float, low, high, log, step} or {choice: [...]}."),
    overrides: list[str] = typer.Option([], "--set", help="Override a base key: --set train.epochs=5"),
    trials: int = typer.Option(20, min=0, help="New trials to run now (0: until --timeout or Ctrl-C)."),
    timeout: float | None = typer.Option(None, min=0, help="Start no new trial after this many seconds (0: no limit)."),
    jobs: int = typer.Option(1, min=1, help="Worker processes sharing the study."),
    storage: str | None = typer.Option(None, help="Study database, any SQLAlchemy URL "
                                       "(default: sqlite:///OUTPUT_DIR/STUDY/study.db)."),
    study: str | None = typer.Option(None, help="Study name (default: the config file's stem)."),
    folds: int = typer.Option(0, min=0, help="Score each trial by k-fold cross-validation (fold mean)."),
    output_dir: Path | None = typer.Option(None, help="OUTPUT_DIR: the study goes to OUTPUT_DIR/STUDY (default: run.output_dir)."),
    sampler: str | None = typer.Option(None, help="tpe, random or grid (every combination of the "
                                       "space's choices and steps). Default: the study's own; tpe for a new study."),
    seed: int = typer.Option(13, help="Seed of the sampler (a grid's: the order of its points)."),
) -> None:
    """Search hyperparameters with Optuna; resumable; writes best.yaml, a table of trials and
    best_so_far.png."""
    from sentinet.tuning.search_space import make_job

    started = time.time()
    job = make_job(config, space, overrides, study, output_dir, storage, folds, sampler)  # before torch
    from sentinet.tuning import tuner  # imports optuna and torch: only this command needs them

    interrupted = tuner.run(job, trials, timeout or None, jobs, seed)
    summary = tuner.summarize(job)
    lines = summary.table.splitlines()
    typer.echo("\n".join(lines[:12]) + (f"\n... {len(lines) - 12} more" if len(lines) > 12 else ""))
    typer.echo(f"trials: {job.directory / 'trials.md'} (and trials.csv)"
               + (f"; best so far: {summary.picture}" if summary.picture else ""))
    if summary.best is not None:
        typer.echo(f"best: trial {summary.best.number}, {summary.score} {summary.best.value:.4f} → {summary.best_path}")
    typer.echo(f"wall time {time.time() - started:.1f}s; {summary.trials} trials in study {job.name} "
               f"(sampler: {summary.sampler})")
    if interrupted:
        raise typer.Exit(130)
    if summary.best is None:
        raise SentinetError(f"study {job.name}: no trial completed; see {job.directory / 'trials.md'}")


def ensemble(
    runs: list[Path] = typer.Argument(..., help="Runs to average: run directories, sentinet baseline "
                                      "runs, or ensemble (--seeds/--folds) directories, whose members are taken in."),
    output: Path = typer.Option(..., "--output", "-o", metavar="DIR", help="The ensemble directory to write: a new "
                                "path or an empty folder (an existing run is never written into)."),
    weights: str | None = typer.Option(None, "--weights", metavar="W1,W2,...", help="One positive number per "
                                       "RUN, in order (normalised to sum 1; a group's weight is shared among its "
                                       "members as it weighs them). Default: every member counts equally."),
) -> None:
    """Average runs trained apart (other encoders, vectors, configs, a sentinet baseline; one
    label set) into one ensemble directory that eval, predict, serve and export take like a
    single run; --weights weighs them. Scored on the members' dev records when they share them."""
    from sentinet.evaluation.metrics import headline
    from sentinet.ensemble import combine_runs, parse_weights  # no torch: only the runs' files are read

    result = combine_runs(runs, output, None if weights is None else parse_weights(weights))
    for note in result.notes:
        typer.echo(f"note: {printable(note)}", err=True)
    for m in result.members:
        weight = f"\tweight {m.weight:.4g}" if result.weighted else ""
        typer.echo(f"{m.path}\t{m.encoder}\tdev {headline(m.best, sep=TAB)}{weight}")
    scored, count = result.summary["ensemble"], len(result.members)
    if scored is None:
        typer.echo(f"ensemble of {count}\tnot scored on dev: {result.summary['dev']['note']}")
    else:
        typer.echo(f"ensemble of {count}\tdev {headline(scored, sep=TAB)}")
    typer.echo(str(result.path))


def distill(
    ensemble: Path = typer.Argument(..., help="The ensemble to learn from: a --seeds/--folds group or a "
                                    "sentinet ensemble directory."),
    output: Path = typer.Option(..., "--output", "-o", metavar="RUN_DIR", help="The distilled run's "
                                "directory: a new path or an empty folder."),
    config: Path | None = typer.Option(None, "--config", "-c", help="The run's YAML config (default: "
                                       "the ensemble's first member's, data, split and model included)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set train.epochs=5"),
    unlabelled: list[Path] = typer.Option([], "--unlabelled", "--unlabeled", metavar="FILE", help="More "
                                          "texts for the ensemble to label and the run to learn (one per "
                                          "line, or TSV/CSV/JSONL/XML; labels ignored); repeatable."),
    temperature: float | None = typer.Option(None, "--temperature", metavar="T", help="Soften the ensemble's and the "
                                             "run's distributions in the loss (train.distill.temperature; "
                                             "default 1: as they are)."),
    device: str | None = typer.Option(None, help="auto, cpu, cuda or cuda:N (overrides train.device)."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads for torch (sets "
                                       "train.num_threads; default: the cores other processes leave free)."),
) -> None:
    """Train one run on an ensemble's probabilities (soft targets) over its training texts and
    any unlabelled ones: almost the ensemble's quality at one model's cost. Dev and model
    selection keep the gold labels; the last line compares its dev score with the ensemble's."""
    from sentinet.training.distill import distill as distill_run  # imports torch only to train

    done = distill_run(ensemble, output, config, overrides, unlabeled=unlabelled, temperature=temperature,
                       device=device or None, threads=threads,
                       on_note=lambda note: typer.echo(f"note: {printable(note)}", err=True))
    from sentinet.evaluation.metrics import headline, metric_name, score_of

    theirs = done.ensemble_score  # the last line holds both: the run's as train prints it, then the ensemble's
    name = metric_name(done.best)
    than = (f"{name} {theirs:.4f} ({score_of(done.best) - theirs:+.4f})" if theirs is not None
            else "not scored on dev" if done.ensemble_dev is None else f"has no dev {name}")
    typer.echo(f"{done.path}\tdev {headline(done.best, sep=TAB)}\tbest epoch {done.result.best_epoch}"
               f"\tensemble {than}")
