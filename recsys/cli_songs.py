"""``songs hide|unhide|hidden``: songs that are never recommended (``songs.available``).

A hidden song keeps its plays (models still train on them) and still works as a seed, but
no answer returns it: running servers read the set every ``RECSYS_MODEL_POLL_SECONDS``
(see :class:`recsys.recommend.holder.ModelHolder`), and the next bundle records it.
"""

from __future__ import annotations

from collections.abc import Sequence

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from recsys.cli_common import require_schema
from recsys.db.models import ID_MAX, Song


def _describe(song: Song) -> str:
    return f"{song.id} ({song.source}:{song.external_id} {song.title!r} by {song.artist!r})"


def find_songs(session: Session, ids: Sequence[int], source: str | None,
               external_ids: Sequence[str]) -> list[Song]:
    """The songs named by catalog ``ids`` and by ``external_ids`` of ``source``, in the
    order given (each once).

    Raises:
        click.ClickException: some of them do not exist (nothing is returned).
    """
    found: dict[int, Song] = {}
    wanted = [i for i in ids if 1 <= i <= ID_MAX]
    if wanted:
        found.update((s.id, s) for s in session.scalars(select(Song).where(Song.id.in_(wanted))))
    unknown = [str(i) for i in ids if i not in found]
    by_external: dict[str, Song] = {}
    if external_ids:
        query = select(Song).where(Song.source == source, Song.external_id.in_(external_ids))
        by_external = {s.external_id: s for s in session.scalars(query)}
        unknown += [f"{source}:{x}" for x in external_ids if x not in by_external]
    if unknown:
        raise click.ClickException(f"unknown song id(s): {', '.join(unknown)} (nothing changed)")
    songs = [found[i] for i in ids] + [by_external[x] for x in external_ids]
    return list({s.id: s for s in songs}.values())


def _change(ids: tuple[int, ...], source: str | None, external_ids: tuple[str, ...],
            available: bool) -> None:
    from recsys.db.session import make_engine, session_scope

    # stripped as the importers strip them (and as /api/songs?external_id= does)
    source = source.strip() if source else source
    external_ids = tuple(x.strip() for x in external_ids)
    if external_ids and not source:
        raise click.UsageError("--external-id needs --source")
    if source and not external_ids:
        raise click.UsageError("--source needs at least one --external-id")
    if not ids and not external_ids:
        raise click.UsageError("name songs by catalog id, or by --source and --external-id")
    require_schema()
    engine = make_engine(current_app.config["DATABASE_URL"])
    try:
        with session_scope(engine) as session:
            songs = find_songs(session, ids, source, external_ids)
            changed = [s for s in songs if s.available != available]
            if changed:
                session.execute(update(Song).where(Song.id.in_([s.id for s in changed]))
                                .values(available=available))
            # the descriptions are read before commit expires the objects
            lines = [(s in changed, _describe(s)) for s in songs]
    finally:
        engine.dispose()
    verb = "unhid" if available else "hid"
    state = "visible" if available else "hidden"
    for was_changed, text in lines:
        click.echo(f"{verb} {text}" if was_changed else f"already {state}: {text}")
    n = sum(changed for changed, _ in lines)
    poll = current_app.config.get("MODEL_POLL_SECONDS", 2)
    click.echo(f"{n} song(s) {'unhidden' if available else 'hidden'}, {len(lines) - n} already "
               f"{state}" + (f"; running servers apply it within {poll} s, without a new model"
                             if n else ""))


_SELECTORS = [
    click.argument("ids", nargs=-1, type=int),
    click.option("--source", help="Source of the --external-id songs."),
    click.option("--external-id", "external_ids", multiple=True,
                 help="A song's id in its source (repeatable)."),
]


def _selectors(func):
    for decorator in reversed(_SELECTORS):
        func = decorator(func)
    return func


@click.group("songs")
def songs_cmd() -> None:
    """Hide songs from every recommendation (placeholders, takedowns), or show them again."""


@songs_cmd.command("hide")
@_selectors
@with_appcontext
def hide_cmd(ids: tuple[int, ...], source: str | None, external_ids: tuple[str, ...]) -> None:
    """Never recommend the songs with catalog ids IDS (they still work as seeds)."""
    _change(ids, source, external_ids, available=False)


@songs_cmd.command("unhide")
@_selectors
@with_appcontext
def unhide_cmd(ids: tuple[int, ...], source: str | None, external_ids: tuple[str, ...]) -> None:
    """Recommend the songs with catalog ids IDS again."""
    _change(ids, source, external_ids, available=True)


@songs_cmd.command("hidden")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="List at most this many (0: all).")
@with_appcontext
def hidden_cmd(limit: int) -> None:
    """List the hidden songs."""
    from recsys.db.session import make_engine, session_scope

    require_schema()
    engine = make_engine(current_app.config["DATABASE_URL"])
    try:
        with session_scope(engine) as session:
            query = select(Song).where(~Song.available).order_by(Song.id)
            songs = [_describe(s) for s in session.scalars(query)]
    finally:
        engine.dispose()
    click.echo(f"{len(songs)} hidden song(s)")
    for text in songs[:limit or None]:
        click.echo(f"  {text}")
    if limit and len(songs) > limit:
        click.echo(f"  ... and {len(songs) - limit} more (--limit 0 lists all)")


COMMANDS: list[click.Command] = [songs_cmd]
