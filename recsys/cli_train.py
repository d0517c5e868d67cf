"""CLI commands for training, evaluation, tuning and the nightly retraining job."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

_settings_options = [
    click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                 help="Training settings YAML (default: RECSYS_TRAIN_CONFIG, data/train.yaml)."),
    click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                 help="Override one setting, e.g. --set epochs=5 (repeatable)."),
]


def settings_options(func):
    for option in reversed(_settings_options):
        func = option(func)
    return func


def load_settings(config_path: str | None, overrides: tuple[str, ...]):
    """Settings from the YAML file plus overrides; errors become click errors."""
    from recsys.ml.settings import TrainSettings

    path = config_path or current_app.config["TRAIN_CONFIG"]
    try:
        return TrainSettings.from_yaml(path, overrides=overrides)
    except FileNotFoundError as exc:
        raise click.ClickException(f"{path}: training config not found") from exc
    except ValueError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc


def _engine_and_store():
    from recsys.extensions import db
    from recsys.index.store import ModelStore

    return db.engine, ModelStore(current_app.config["MODEL_DIR"])


def _epoch_progress(total_epochs: int):
    bar = click.progressbar(length=total_epochs, label="training", file=sys.stderr)
    bar.__enter__()

    def update(done: int, total: int, elapsed: float) -> None:
        bar.update(1)
        if done == total:
            bar.__exit__(None, None, None)

    return update


@click.command("train")
@settings_options
@click.option("--holdout", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="Fraction of playlists held out (stable by source:external_id) for metrics.")
@click.option("--source", default=None, help="Train on one source only.")
@click.option("--backend", type=click.Choice(["annoy", "exact"]), default="annoy",
              show_default=True, help="ANN index of the bundle.")
@click.option("--promote", "do_promote", is_flag=True, help="Promote the new model right away.")
@with_appcontext
def train_cmd(config_path, overrides, holdout, source, backend, do_promote) -> None:
    """Train word2vec on the database's playlists and write a model bundle."""
    from recsys.index.registry import promote
    from recsys.jobs.training import train_and_bundle

    settings = load_settings(config_path, overrides)
    engine, store = _engine_and_store()
    try:
        outcome = train_and_bundle(engine, store, settings, holdout_frac=holdout, source=source,
                                   backend=backend, progress=_epoch_progress(settings.epochs))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    stats = outcome.stats
    click.echo(f"model {outcome.version} (training run {outcome.run_id}): "
               f"{stats.get('vocab_size')} songs, {stats.get('words_per_s', 0):,.0f} words/s, "
               f"{stats.get('duration_s')} s")
    for mode, values in outcome.metrics.items():
        if isinstance(values, dict):
            shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items() if isinstance(v, float))
            click.echo(f"  {mode}: {shown}")
    if do_promote:
        promote(engine, store, outcome.version, actor="cli")
        click.echo(f"promoted {outcome.version}")


@click.command("evaluate")
@settings_options
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated split seeds.")
@click.option("--source", default=None, help="Evaluate on one source only.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the full results as JSON to this file.")
@with_appcontext
def evaluate_cmd(config_path, overrides, seeds, source, json_path) -> None:
    """Offline evaluation: every method side by side on seeded held-out splits."""
    from recsys.jobs import data
    from recsys.ml.compare import compare_methods, format_summary

    settings = load_settings(config_path, overrides)
    seed_list = _parse_seeds(seeds)
    engine, _ = _engine_and_store()
    playlists = data.load_playlists(engine, part="all", source=source)
    if len(playlists) < 10:
        raise click.ClickException("not enough playlists to evaluate; import data first")
    result = compare_methods(playlists, data.load_tags(engine), settings, seed_list,
                             on_seed=lambda s: click.echo(f"seed {s} done", err=True))
    click.echo(f"{len(playlists)} playlists, seeds {seed_list}, test = 20% (mean ± std)\n")
    click.echo(format_summary(result["summary"]))
    for name, value in result["ratios"].items():
        click.echo(f"{name}: {value:.3f}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2))


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"seeds must be integers, got {text!r}") from exc
    if not seeds:
        raise click.BadParameter("at least one seed")
    return seeds


@click.command("retrain")
@settings_options
@click.option("--import", "imports", multiple=True, metavar="KIND:PATH[:SOURCE]",
              help="Import first, e.g. --import yes:/data/yes_big:yes_big (repeatable).")
@click.option("--holdout", type=click.FloatRange(0, 0.5), default=0.1, show_default=True)
@click.option("--tolerance", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Promote if each gate metric >= production * (1 - tolerance).")
@click.option("--backend", type=click.Choice(["annoy", "exact"]), default="annoy")
@click.option("--dry-run", is_flag=True, help="Train and gate, but never promote.")
@with_appcontext
def retrain_cmd(config_path, overrides, imports, holdout, tolerance, backend, dry_run) -> None:
    """The nightly job: import, train, evaluate against production, promote if not worse."""
    from recsys.ingest.model import IngestError
    from recsys.jobs.nightly import ImportSpec, JobLockedError, run_nightly

    specs = []
    for text in imports:
        kind, _, rest = text.partition(":")
        path, _, src = rest.partition(":")
        if not kind or not path:
            raise click.BadParameter(f"expected KIND:PATH[:SOURCE], got {text!r}")
        specs.append(ImportSpec(kind, path, src or None))
    settings = load_settings(config_path, overrides)
    engine, store = _engine_and_store()
    try:
        report = run_nightly(engine, store, settings, imports=specs, holdout_frac=holdout,
                             tolerance=tolerance, backend=backend, dry_run=dry_run)
    except (IngestError, JobLockedError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for item in report.imports:
        click.echo(item["summary"])
    verdict = "promoted" if report.promoted else "not promoted"
    click.echo(f"model {report.version}: {verdict} ({report.reason})")


COMMANDS = [train_cmd, evaluate_cmd, retrain_cmd]
