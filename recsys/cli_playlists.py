"""``playlists delete``: remove a source's playlists from the catalog
(:mod:`recsys.ingest.remove`), e.g. a file imported under the wrong source."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from recsys.cli import _url, db_hint


def _interactive() -> bool:
    """Whether a person can answer the confirmation (stdin is a terminal)."""
    return sys.stdin.isatty()


def _delete(source: str, external_ids: tuple[str, ...], dry_run: bool,
            expect: list[str] | None = None):
    """:func:`recsys.ingest.delete_playlists_of` on the app's database; errors exit 1."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from recsys.cli_common import require_schema
    from recsys.db.session import make_engine
    from recsys.ingest import IngestError, delete_playlists_of

    require_schema()
    engine = make_engine(_url())
    try:
        return delete_playlists_of(engine, source, external_ids, dry_run=dry_run,
                                   expect=expect)
    except IngestError as exc:
        raise click.ClickException(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"database error, nothing deleted: {exc.orig}{db_hint(exc)}") from None
    finally:
        engine.dispose()


@click.group("playlists")
def playlists_group() -> None:
    """Remove playlists from the catalog (songs are kept)."""


@playlists_group.command("delete")
@click.option("--source", required=True, help="The source whose playlists are deleted.")
@click.option("--playlist", "external_ids", multiple=True, metavar="EXTERNAL_ID",
              help="Delete only this playlist of the source (its id in the source; repeatable).")
@click.option("--dry-run", is_flag=True,
              help="Count what would be deleted, print it and roll back: nothing is written.")
@click.option("--yes", is_flag=True,
              help="Do not ask for confirmation (required when stdin is not a terminal).")
@with_appcontext
def delete_cmd(source: str, external_ids: tuple[str, ...], dry_run: bool, yes: bool) -> None:
    """Delete every playlist of a source (or the --playlist ones) with its items.

    One transaction, recorded as an import run of kind 'delete' (the dashboard's imports
    table shows it); it waits for a running import (on SQLite for 30 s at most). Songs are
    never deleted: those left in no playlist drop out of the next model (`songs hide` removes
    one from answers at once).
    """
    if not (yes or dry_run or _interactive()):  # before the preview, which may wait for a lock
        raise click.ClickException(
            f"refusing to delete playlists of source {source!r} without confirmation: stdin "
            "is not a terminal; pass --yes (or preview with --dry-run)")
    if yes and not dry_run:
        click.echo(_delete(source, external_ids, dry_run=False).summary())
        return
    preview = _delete(source, external_ids, dry_run=True)
    if dry_run or not preview.deleted:
        click.echo(preview.summary())
        return
    what = (f"{preview.playlists_deleted:,} playlists ({preview.items_deleted:,} items) of "
            f"source {preview.source!r}")
    if not click.confirm(f"Delete {what}? Songs are kept", default=False):
        raise click.ClickException("not confirmed: nothing deleted")
    # exactly what was confirmed: an import into the source meanwhile stops it
    click.echo(_delete(source, external_ids, dry_run=False, expect=preview.deleted).summary())


COMMANDS: list[click.Command] = [playlists_group]
