"""CLI commands for training, evaluation and tuning (the nightly job: ``recsys.cli_nightly``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from recsys.cli_common import (
    FiniteFloatRange,
    engine_and_store,
    load_settings,
    settings_options,
    yaml_error,
)
from recsys.db.base import finite_json


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
@click.option("--holdout", type=FiniteFloatRange(0, 0.5), default=0.1, show_default=True,
              help="Fraction of playlists held out (stable by source:external_id) for metrics.")
@click.option("--source", default=None, help="Train on one source only.")
@click.option("--backend", type=click.Choice(["annoy", "exact"]), default="annoy",
              show_default=True, help="ANN index of the bundle.")
@click.option("--promote", "do_promote", is_flag=True, help="Promote the new model right away.")
@click.option("--if-no-model", is_flag=True, help="Do nothing when a model is already current.")
@with_appcontext
def train_cmd(config_path, overrides, holdout, source, backend, do_promote, if_no_model) -> None:
    """Train word2vec on the database's playlists and write a model bundle."""
    from recsys.index.registry import promote
    from recsys.jobs.nightly import JobLockedError, pipeline_lock
    from recsys.jobs.signals import TERMINATED_EXIT, Terminated, sigterm_raises
    from recsys.jobs.training import describe_failure, train_and_bundle

    settings = load_settings(config_path, overrides)
    engine, store = engine_and_store()
    if if_no_model and store.current_version():
        click.echo(f"model {store.current_version()} is current; not training (--if-no-model)")
        return
    started = time.perf_counter()
    try:  # the nightly job's lock: its clean-up must never delete this run's bundle
        with sigterm_raises(), pipeline_lock(engine, store, holder="train"):
            outcome = train_and_bundle(engine, store, settings, holdout_frac=holdout,
                                       source=source, backend=backend,
                                       progress=_epoch_progress(settings.epochs))
    except (JobLockedError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # a full disk, a read-only model store: one line, no traceback
        raise click.ClickException(describe_failure(exc, store.root)) from exc
    except Terminated as exc:
        click.echo(f"training {exc}; the run is recorded as failed", err=True)
        sys.exit(TERMINATED_EXIT)
    stats = outcome.stats
    click.echo(f"model {outcome.version} (training run {outcome.run_id}): "
               f"{stats.get('vocab_size')} songs, {stats.get('words_per_s', 0):,.0f} words/s; "
               f"word2vec {stats.get('duration_s')} s, whole run "
               f"{time.perf_counter() - started:.1f} s")
    if not outcome.metrics:
        click.echo("  no metrics: no held-out playlists (--holdout 0, or too few playlists)")
    metrics = dict(outcome.metrics)
    baselines = metrics.pop("baselines", {})
    for mode, values in {**metrics, **baselines}.items():
        if isinstance(values, dict):
            shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items() if isinstance(v, float))
            click.echo(f"  {mode}: {shown}")
    if "next_hr_over_best" in baselines:
        click.echo(f"  next HR@10 / best counting baseline: {baselines['next_hr_over_best']:.3f}")
    if do_promote:
        promote(engine, store, outcome.version, actor="cli")
        click.echo(f"promoted {outcome.version}")
    else:
        click.echo(f"not promoted; to serve it: python -m recsys promote {outcome.version}")


@click.command("evaluate")
@settings_options
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated split seeds.")
@click.option("--source", default=None, help="Evaluate on one source only.")
@click.option("--test", "test_path", type=click.Path(exists=True), default=None,
              help="Score on these playlists (never imported) and train on all the database's.")
@click.option("--test-format", type=click.Choice(["yes", "csv", "jsonl"]), default=None,
              help="Format of --test (default: from its name; a directory or .txt is yes).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the full results as JSON to this file.")
@with_appcontext
def evaluate_cmd(config_path, overrides, seeds, source, test_path, test_format,
                 json_path) -> None:
    """Offline evaluation: every method side by side on seeded held-out splits.

    With --test, every method is trained on the database's playlists (of --source) and
    scored on the file's playlists instead; the seeds then vary word2vec's initialisation.
    """
    from recsys.ml.compare import compare_methods, format_summary

    settings = load_settings(config_path, overrides)
    seed_list = _parse_seeds(seeds)
    engine, _ = engine_and_store()
    playlists, tags = _read(engine, source)
    if len(playlists) < 10:
        raise click.ClickException("not enough playlists to evaluate; import data first")
    test = _external_test(engine, test_path, test_format, source, playlists) if test_path else None
    result = compare_methods(playlists, tags, settings, seed_list,
                             on_seed=lambda s: click.echo(f"seed {s} done", err=True),
                             test=test.playlists if test else None)
    spread = len(seed_list) > 1
    if test:
        result["test"] = test.as_dict()
        click.echo(f"{len(playlists)} training playlists, word2vec seeds {seed_list}")
        click.echo(test.summary() + "\n")
    else:
        click.echo(f"{len(playlists)} playlists, seeds {seed_list}, test = 20%\n")
    if spread:
        click.echo(f"mean ± std over the {len(seed_list)} seeds:")
    click.echo(format_summary(result["summary"], spread))
    for name, value in result["ratios"].items():
        click.echo(f"{name}: {value:.3f}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(finite_json(result), indent=2))


def _read(engine, source: str | None) -> tuple[list[list[int]], dict[int, frozenset[int]]]:
    """Every playlist (of ``source``) and the songs' tags, from one database snapshot (an
    import committed meanwhile would pair playlists and tags of different moments)."""
    from recsys.db.session import read_snapshot
    from recsys.jobs import data

    with read_snapshot(engine) as conn:
        return data.load_playlists(conn, part="all", source=source), data.load_tags(conn)


def _external_test(engine, path, fmt, source, train_playlists):
    """The --test file as catalog song ids; bad input becomes ``FILE:LINE: reason``."""
    from recsys.ingest import IngestError
    from recsys.jobs import external

    try:
        fmt = fmt or external.guess_format(path)
        test = external.load_external(engine, path, fmt, source or external.only_source(engine),
                                      train=train_playlists)
    except IngestError as exc:
        raise click.ClickException(str(exc)) from None
    if not any(_scorable(p) for p in test.playlists):
        raise click.ClickException(
            f"{path}: nothing to score: no test playlist has two songs in a row that the "
            f"catalog of {test.source!r} holds ({test.unknown_songs:,} songs of the file are "
            "not in it; is --source right?)")
    if test.looks_imported():
        click.echo(f"warning: {test.duplicates:,} test playlists ({test.duplicate_frac:.1%}) are "
                   "identical to training playlists, while the training playlists repeat each "
                   f"other at {test.train_repeat_rate:.1%}: was the file imported?", err=True)
    return test


def _scorable(playlist: list[int]) -> bool:
    """Whether a test playlist (catalog ids; unknown songs < 0) gives any query a score: a
    known song followed by a known one (next song), or a known last song after a known one
    (continuation)."""
    if any(a >= 0 and b >= 0 for a, b in zip(playlist[:-1], playlist[1:], strict=True)):
        return True
    return len(playlist) > 1 and playlist[-1] >= 0 and any(s >= 0 for s in playlist[:-1])


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"seeds must be integers, got {text!r}",
                                 param_hint="--seeds") from exc
    if not seeds:
        raise click.BadParameter("at least one seed", param_hint="--seeds")
    if not all(0 <= s < 2**32 for s in seeds):
        raise click.BadParameter(f"seeds must be within 0..{2**32 - 1}, got {text!r}",
                                 param_hint="--seeds")
    return seeds


@click.command("tune")
@settings_options
@click.option("--space", "space_path", type=click.Path(dir_okay=False, exists=True),
              default=None, help="YAML mapping setting -> list of values (default: built in).")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Random sample of this many training combinations (default: full grid).")
@click.option("--seed", type=int, default=0, show_default=True, help="Split and sampling seed.")
@click.option("--source", default=None, help="Tune on one source only.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Results table as JSON (default: var/tune/tune-<seed>.json).")
@click.option("--write-config", type=click.Path(dir_okay=False), default=None,
              help="Write the winning settings as a training config YAML.")
@with_appcontext
def tune_cmd(config_path, overrides, space_path, trials, seed, source, out_path,
             write_config) -> None:
    """Search settings on a validation split (disjoint from the evaluation's test split)."""
    import yaml

    from recsys.ml.evaluate import format_table, split_train_val_test
    from recsys.ml.tune import DEFAULT_SPACE, tune

    base = load_settings(config_path, overrides)
    space = DEFAULT_SPACE
    if space_path:
        try:
            space = yaml.safe_load(Path(space_path).read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise yaml_error(space_path, exc) from None
        except (RecursionError, UnicodeDecodeError) as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else "not UTF-8 text"
            raise click.ClickException(f"{space_path}: invalid YAML: {why}") from None
        if not isinstance(space, dict) or not all(isinstance(v, list) for v in space.values()):
            raise click.ClickException(f"{space_path}: expected a mapping of setting -> list")
    from recsys.ml.settings import parse_overrides

    searched = sorted(set(parse_overrides(overrides)) & set(space))
    if searched:
        click.echo(f"note: the search space sets {', '.join(searched)}; --set does not apply to "
                   "those (edit the space to change them)", err=True)
    engine, _ = engine_and_store()
    playlists, tags = _read(engine, source)
    if len(playlists) < 10:
        raise click.ClickException("not enough playlists to tune on; import data first")
    train_pl, val_pl, _test = split_train_val_test(playlists, 0.1, 0.2, seed=seed)
    try:
        results = tune(train_pl, val_pl, space, base=base, n_trials=trials, seed=seed,
                       tags=tags)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    out = Path(out_path or Path(current_app.config["VAR_DIR"]) / "tune" / f"tune-{seed}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(finite_json({"seed": seed, "space": space, "base": base.to_dict(),
                                         "results": results}), indent=2))
    cols = [*space, "hr@10", "mrr@10", "ndcg@10", "sim_tag_coherence", "train_s"]
    click.echo(format_table(results[:10], columns=cols))
    click.echo(f"{len(results)} combinations; full table in {out}")
    if write_config:
        best = {k: v for k, v in results[0].items() if k in space}
        Path(write_config).write_text(yaml.safe_dump(base.replace(**best).to_dict(),
                                                     sort_keys=False))
        click.echo(f"wrote the winning settings to {write_config}")


COMMANDS = [train_cmd, evaluate_cmd, tune_cmd]
