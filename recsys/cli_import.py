"""CLI commands of the catalog's input: ``import yes|csv|jsonl`` and ``sample``
(:mod:`recsys.ingest`)."""

from __future__ import annotations

import functools

import click
from flask.cli import with_appcontext

from recsys.cli import _url, db_hint
from recsys.cli_common import FiniteFloatRange


def _run_import(func, *args, **kwargs) -> None:
    """Call an importer on the app's database; bad input becomes ``FILE:LINE: reason``."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    from recsys.cli_common import require_schema
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
               "titles, artists and tags (non-empty ones), playlist items and names become the "
               "file's. Rows it does not name are kept. Without it, only empty titles, "
               "artists and playlist names are filled in (and tags added).")
#: Help of ``import … --dry-run``.
DRY_RUN_HELP = ("Do the whole import and print its summary (what it would add, change and "
                "delete), then roll it back: nothing is written.")
#: Help of ``--snapshot`` and ``--max-delete`` (import and retrain).
SNAPSHOT_HELP = ("The file holds ALL of its source's playlists: --update, and the source's "
                 "stored playlists the file does not name are deleted (songs are kept).")
MAX_DELETE_HELP = ("Refuse a --snapshot import (write nothing) if it would delete more than "
                   "this percentage of the source's stored playlists, e.g. after a cut export "
                   "[default: 20].")


def import_mode_options(func=None, *, each: str = "", snapshots: bool = True,
                        previews: bool = False):
    """``--update``, ``--snapshot`` and ``--max-delete PCT`` (and with ``previews``
    ``--dry-run``), handed to the command as one ``mode`` dict of the importers' keywords
    (``max_delete`` as a fraction); ``each`` prefixes their help (``retrain``: "For every
    --import: "); ``snapshots=False``: no ``--snapshot``."""
    if func is None:
        return functools.partial(import_mode_options, each=each, snapshots=snapshots,
                                 previews=previews)

    @functools.wraps(func)
    def command(*args, update: bool, snapshot: bool = False, max_delete: float | None = None,
                **kwargs):
        if snapshot and not snapshots:  # a hidden flag: say why there is none
            from recsys.ingest.importers import YES_SNAPSHOT

            raise click.UsageError(YES_SNAPSHOT[0].upper() + YES_SNAPSHOT[1:])
        if update and snapshot:  # a snapshot applies the file as --update does
            raise click.UsageError("--update and --snapshot are exclusive: a --snapshot import "
                                   "already applies the file as --update does (and deletes "
                                   "the source's playlists it does not name); drop --update")
        if max_delete is not None and not snapshot:
            raise click.UsageError("--max-delete applies to --snapshot imports only")
        mode = {"update": update, "snapshot": snapshot}
        if previews and kwargs.pop("dry_run"):  # retrain's own --dry-run stays its own
            mode["dry_run"] = True
        if max_delete is not None:
            mode["max_delete"] = max_delete / 100
        return func(*args, mode=mode, **kwargs)

    def prefixed(text: str) -> str:
        return f"{each}{text[0].lower()}{text[1:]}" if each else text

    if previews:
        command = click.option("--dry-run", is_flag=True, help=DRY_RUN_HELP)(command)
    if snapshots:
        command = click.option("--max-delete", type=FiniteFloatRange(0, 100), metavar="PCT",
                               help=MAX_DELETE_HELP)(command)
    command = click.option("--snapshot", is_flag=True, hidden=not snapshots,
                           help=prefixed(SNAPSHOT_HELP))(command)
    update_help = UPDATE_HELP.replace("are kept.", "are kept (see --snapshot).") if snapshots \
        else UPDATE_HELP
    return click.option("--update", is_flag=True, help=prefixed(update_help))(command)


@click.group("import")
def import_group() -> None:
    """Import playlists into the catalog (one transaction per file, idempotent).

    Rows are keyed by (source, external id). Re-sending a song or playlist adds nothing;
    it fills in an empty title, artist or playlist name, and with --update applies the
    file's titles, artists, playlist contents and names. With --snapshot the file is the
    whole source: its other playlists are deleted. The summary says what changed, and what
    differs but was kept.
    """


@import_group.command("yes")
@click.argument("directory", type=click.Path(file_okay=False, path_type=str))
@click.option("--source", default=None, help="Source name (default: the directory name).")
@click.option("--ignore-header-counts", is_flag=True,
              help="Accept a train.txt whose header line 2 (appearance counts) disagrees with "
                   "its playlists, e.g. lines cut out of a bigger file (logged as a warning).")
@import_mode_options(snapshots=False, previews=True)
@_no_progress
@with_appcontext
def import_yes_cmd(directory: str, source: str | None, ignore_header_counts: bool,
                   mode: dict, no_progress: bool) -> None:
    """Import a Yes.com subset DIRECTORY (song_hash.txt, tags.txt, tag_hash.txt, train.txt)."""
    from recsys.ingest import import_yes

    _run_import(import_yes, directory, source, progress=not no_progress,
                strict_counts=not ignore_header_counts, **mode)


@import_group.command("csv")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--source", default="custom", show_default=True, help="Source name.")
@import_mode_options(previews=True)
@_no_progress
@with_appcontext
def import_csv_cmd(file: str, source: str, mode: dict, no_progress: bool) -> None:
    """Import a CSV playlist FILE (format: data/README.md)."""
    from recsys.ingest import import_csv

    _run_import(import_csv, file, source, progress=not no_progress, **mode)


@import_group.command("jsonl")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--source", default="custom", show_default=True, help="Source name.")
@import_mode_options(previews=True)
@_no_progress
@with_appcontext
def import_jsonl_cmd(file: str, source: str, mode: dict, no_progress: bool) -> None:
    """Import a JSONL playlist FILE (format: data/README.md)."""
    from recsys.ingest import import_jsonl

    _run_import(import_jsonl, file, source, progress=not no_progress, **mode)


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


COMMANDS = [import_group, sample_cmd]
