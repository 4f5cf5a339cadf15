"""The CLI's tool groups: ``sentinet config show | reference`` and ``sentinet embeddings
train`` (sentinet.cli mounts them beside the pipeline commands)."""

from __future__ import annotations

from pathlib import Path

import typer

from sentinet.errors import SentinetError


config_app = typer.Typer(no_args_is_help=True, help="Configs: the resolved config, the key reference.")


@config_app.command("show")
def config_show(
    config: Path = typer.Argument(..., help="YAML config file."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set train.epochs=5"),
) -> None:
    """Print the config as training will see it: every default spelled out, overrides applied,
    data and vector paths resolved where the files are found."""
    from sentinet.config import dump_yaml, load_config, resolve_paths
    from sentinet.models import ENCODER_OPTIONS

    cfg = load_config(config, overrides, ENCODER_OPTIONS)
    try:
        cfg = resolve_paths(cfg)
    except SentinetError as exc:
        typer.echo(f"# note: {exc}", err=True)
    typer.echo(dump_yaml(cfg), nl=False)


@config_app.command("reference")
def config_reference() -> None:
    """Print every config key with its type, default and meaning (Markdown), generated from
    the config dataclasses (docs/CONFIG.md is this output)."""
    from sentinet.config_reference import reference_markdown

    typer.echo(reference_markdown(), nl=False)


embeddings_app = typer.Typer(no_args_is_help=True,
                             help="Word vectors: train word2vec on your own texts.")


@embeddings_app.command("train")
def embeddings_train(
    corpus: list[Path] = typer.Argument(..., help="Texts: plain text (one per line), SentiRuEval XML, TSV, CSV or JSONL."),
    out: Path = typer.Option(..., "--out", "-o", help="word2vec file: binary (.bin) or text (.txt/.vec); "
                             "an existing file is replaced (and stderr says so); an input is refused."),
    config: Path | None = typer.Option(None, help="Take tokenizer and vectors.word2vec settings from this config."),
    overrides: list[str] = typer.Option([], "--set", help="Override a key: --set vectors.word2vec.dim=200"),
    seed: int = typer.Option(13),
    workers: int = typer.Option(2, min=1, help="gensim worker threads."),
) -> None:
    """Train in-domain word2vec vectors (e.g. to concatenate with navec via vectors.concat)."""
    from tqdm import tqdm

    from sentinet.config import Config, apply_override, from_dict, load_config
    from sentinet.models import ENCODER_OPTIONS
    from sentinet.data.readers import read_records
    from sentinet.data.tokenize import Tokenizer
    from sentinet.embeddings import fit_word2vec, save_vectors
    from sentinet.fileio import check_output, replaced_note

    replaced = check_output(out, [*corpus, *([config] if config else [])])
    if config:
        cfg = load_config(config, overrides, ENCODER_OPTIONS)
    else:
        raw: dict = {}
        for item in overrides:
            apply_override(raw, item)
        cfg = from_dict(raw, ENCODER_OPTIONS) if raw else Config()
    tokenizer = Tokenizer(cfg.tokenizer)
    d = cfg.data
    texts = [r.text for path in corpus
             for r in read_records(path, text_column=d.text_column, quoting=d.quoting)]
    sentences = [tokenizer(t) for t in tqdm(texts, desc="tokenize", leave=False, disable=None)]
    w2v = cfg.vectors.word2vec
    typer.echo(f"word2vec: {len(sentences)} texts, dim {w2v.dim}, window {w2v.window}, "
               f"min_count {w2v.min_count}, {w2v.epochs} epochs, {'skip-gram' if w2v.sg else 'CBOW'}", err=True)
    kv = fit_word2vec(sentences, w2v, seed, workers)
    save_vectors(kv, out, binary=out.suffix.lower() not in (".txt", ".vec"))
    typer.echo(f"wrote {len(kv)} words x {kv.vector_size} to {out}{replaced_note(replaced)}", err=True)
