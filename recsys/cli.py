"""Thin click commands: ``python -m recsys <command>`` or ``flask --app wsgi <command>``.

Each command parses its options, calls a function of the package, and prints a summary.
Errors the user can fix are reported as ``click.ClickException`` (message, exit code 1).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext


def _url() -> str:
    return current_app.config["DATABASE_URL"]


@contextmanager
def _migration_logging() -> Iterator[None]:
    """Alembic's lines and the migrations' own (logger ``alembic.runtime.migration``: "Running
    upgrade 0006 -> 0007", 0007's backfill progress every 10 s) at INFO on the app's handlers,
    stderr and ``recsys.log``: without them a long migration is a silent command (Python's
    last-resort handler shows warnings only)."""
    target = logging.getLogger("alembic.runtime.migration")
    added = [h for h in logging.getLogger("recsys").handlers if h not in target.handlers]
    level = target.level
    for handler in added:
        target.addHandler(handler)
    if target.getEffectiveLevel() > logging.INFO:
        target.setLevel(logging.INFO)
    try:
        yield
    finally:
        for handler in added:
            target.removeHandler(handler)
        target.setLevel(level)


@click.group("db")
def db_group() -> None:
    """Database schema migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or upgrade the database schema to REVISION (default: head)."""
    from recsys.db import migrate

    before = migrate.revision_of(_url())
    with _migration_logging():
        migrate.upgrade(_url(), revision)
    after = migrate.revision_of(_url())
    change = "unchanged" if before == after else f"was {before or 'empty'}"
    click.echo(f"database at revision {after} ({change})")


@db_group.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the database schema to REVISION (e.g. -1, or base: drops every table)."""
    from recsys.db import migrate

    before = migrate.revision_of(_url())
    with _migration_logging():
        migrate.downgrade(_url(), revision)
    after = migrate.revision_of(_url())
    click.echo(f"database at revision {after or 'base (no tables)'} (was {before or 'empty'})")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Show the current schema revision."""
    from recsys.db import migrate

    if migrate.revision_of(_url()) is None:
        click.echo("no schema yet (run `db upgrade`)")
        return
    migrate.current(_url())


@db_group.command("history")
@with_appcontext
def db_history() -> None:
    """List schema revisions."""
    from recsys.db import migrate

    migrate.history(_url())


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--autogenerate", is_flag=True, help="Diff the models against the database.")
@with_appcontext
def db_revision(message: str, autogenerate: bool) -> None:
    """Draft a new migration in migrations/versions (review it by hand)."""
    from recsys.db import migrate

    migrate.revision(_url(), message, autogenerate)


COMMANDS: list[click.Command] = [db_group]


# --- ingest: import yes/csv/jsonl, sample (recsys.ingest) ----------------------------------


def _run_import(func, *args, **kwargs) -> None:
    """Call an importer on the app's database; bad input becomes ``FILE:LINE: reason``."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    from recsys.cli_train import require_schema
    from recsys.db.session import make_engine
    from recsys.ingest import IngestError

    require_schema()
    engine = make_engine(_url())
    try:
        result = func(engine, *args, **kwargs)
    except IngestError as exc:
        hint = ""
        if "header says song" in str(exc):
            hint = ("\nA subset cut out of a bigger file keeps the old counts: recount line 2, "
                    "or import with --ignore-header-counts.")
        raise click.ClickException(f"{exc}{hint}") from None
    except IntegrityError as exc:  # e.g. two imports of the same source at the same time
        raise click.ClickException(f"import rolled back, nothing written: {exc.orig}") from None
    except (OperationalError, ProgrammingError) as exc:  # e.g. schema not created yet
        raise click.ClickException(
            f"database error, nothing written: {exc.orig}{db_hint(exc)}") from None
    finally:
        engine.dispose()
    click.echo(result.summary())


_no_progress = click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
#: Help of ``import --update`` and ``retrain --update``.
UPDATE_HELP = ("The file is authoritative for the songs and playlists it names: their "
               "titles/artists (non-empty ones), playlist items and names become the file's. "
               "Not a snapshot: rows it does not name are kept. Without it, only empty "
               "titles, artists and playlist names are filled in.")
_update = click.option("--update", is_flag=True, help=UPDATE_HELP)


@click.group("import")
def import_group() -> None:
    """Import playlists into the catalog (one transaction per file, idempotent).

    Rows are keyed by (source, external id). Re-sending a song or playlist adds nothing;
    it fills in an empty title, artist or playlist name, and with --update applies the
    file's titles, artists, playlist contents and names. The summary says what changed,
    and what differs but was kept.
    """


@import_group.command("yes")
@click.argument("directory", type=click.Path(file_okay=False, path_type=str))
@click.option("--source", default=None, help="Source name (default: the directory name).")
@click.option("--ignore-header-counts", is_flag=True,
              help="Accept a train.txt whose header line 2 (appearance counts) disagrees with "
                   "its playlists, e.g. lines cut out of a bigger file (logged as a warning).")
@_update
@_no_progress
@with_appcontext
def import_yes_cmd(directory: str, source: str | None, ignore_header_counts: bool,
                   update: bool, no_progress: bool) -> None:
    """Import a Yes.com subset DIRECTORY (song_hash.txt, tags.txt, tag_hash.txt, train.txt)."""
    from recsys.ingest import import_yes

    _run_import(import_yes, directory, source, progress=not no_progress,
                strict_counts=not ignore_header_counts, update=update)


@import_group.command("csv")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--source", default="custom", show_default=True, help="Source name.")
@_update
@_no_progress
@with_appcontext
def import_csv_cmd(file: str, source: str, update: bool, no_progress: bool) -> None:
    """Import a CSV playlist FILE (format: data/README.md)."""
    from recsys.ingest import import_csv

    _run_import(import_csv, file, source, progress=not no_progress, update=update)


@import_group.command("jsonl")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--source", default="custom", show_default=True, help="Source name.")
@_update
@_no_progress
@with_appcontext
def import_jsonl_cmd(file: str, source: str, update: bool, no_progress: bool) -> None:
    """Import a JSONL playlist FILE (format: data/README.md)."""
    from recsys.ingest import import_jsonl

    _run_import(import_jsonl, file, source, progress=not no_progress, update=update)


@click.command("sample")
@click.option("--playlists", "n_playlists", type=click.IntRange(min=1), default=3000,
              show_default=True, help="Number of playlists to generate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write FILE.csv or FILE.jsonl instead of importing.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has playlists.")
@_no_progress
@with_appcontext
def sample_cmd(n_playlists: int, seed: int, out: str | None, if_empty: bool,
               no_progress: bool) -> None:
    """Generate synthetic playlists with planted genres; import them as source 'sample'."""
    from recsys.ingest import IngestError
    from recsys.ingest.sample import generate_sample, import_sample

    if out is not None:
        try:
            rows = generate_sample(n_playlists, seed).write(out)
        except IngestError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"wrote {n_playlists:,} playlists ({rows:,} items) to {out}")
        return
    if if_empty:
        from recsys.db.session import make_engine
        from recsys.ingest import catalog_snapshot

        engine = make_engine(_url())
        existing = catalog_snapshot(engine)["playlists"]
        engine.dispose()
        if existing:
            click.echo(f"database already has {existing:,} playlists: sample skipped")
            return
    _run_import(import_sample, n_playlists, seed, progress=not no_progress)


COMMANDS += [import_group, sample_cmd]


def _all_commands() -> list[click.Command]:
    from recsys.cli_backup import COMMANDS as BACKUP_COMMANDS
    from recsys.cli_models import COMMANDS as MODEL_COMMANDS
    from recsys.cli_nightly import COMMANDS as NIGHTLY_COMMANDS
    from recsys.cli_songs import COMMANDS as SONG_COMMANDS
    from recsys.cli_train import COMMANDS as TRAIN_COMMANDS

    return [*COMMANDS, *TRAIN_COMMANDS, *NIGHTLY_COMMANDS, *MODEL_COMMANDS, *SONG_COMMANDS,
            *BACKUP_COMMANDS]


def register_commands(app: Flask) -> None:
    """Attach every command to ``app.cli`` (so ``flask --app wsgi`` sees them too)."""
    for command in _all_commands():
        app.cli.add_command(command)


def _create_app() -> Flask:
    from recsys import create_app

    try:
        return create_app()
    except RuntimeError as exc:  # configuration: missing production secrets, bad RECSYS_ENV
        raise click.ClickException(str(exc)) from None


class _Main(click.Group):
    """Root group: operator errors (database, migrations) become one ``Error:`` line."""

    def invoke(self, ctx: click.Context):
        from alembic.util import CommandError
        from sqlalchemy.exc import DBAPIError

        try:
            return super().invoke(ctx)
        except CommandError as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            raise click.ClickException(f"database error: {exc.orig}{db_hint(exc)}") from None


def db_hint(exc: Exception) -> str:
    """What to check for a database error: the schema, the URL, or nothing obvious."""
    text = str(getattr(exc, "orig", exc)).lower()
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return " (did you run `db upgrade`?)"
    if any(s in text for s in ("connection", "could not connect", "unable to open",
                               "authentication", "database \"", "timeout expired")):
        return " (is DATABASE_URL right, and the database server up?)"
    return ""


@click.group(name="recsys", cls=_Main, help="playlist2vec command line.")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Root group: commands run inside an app context built from the environment."""
    ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False)


for _command in _all_commands():
    main.add_command(_command)
