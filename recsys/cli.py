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

    if not revision.strip():
        raise click.BadParameter("give a revision: -1, a revision id, or base",
                                 param_hint="REVISION")

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




def _all_commands() -> list[click.Command]:
    from recsys.cli_backup import COMMANDS as BACKUP_COMMANDS
    from recsys.cli_import import COMMANDS as IMPORT_COMMANDS
    from recsys.cli_models import COMMANDS as MODEL_COMMANDS
    from recsys.cli_nightly import COMMANDS as NIGHTLY_COMMANDS
    from recsys.cli_playlists import COMMANDS as PLAYLIST_COMMANDS
    from recsys.cli_songs import COMMANDS as SONG_COMMANDS
    from recsys.cli_train import COMMANDS as TRAIN_COMMANDS

    return [*COMMANDS, *IMPORT_COMMANDS, *TRAIN_COMMANDS, *NIGHTLY_COMMANDS, *MODEL_COMMANDS,
            *SONG_COMMANDS, *PLAYLIST_COMMANDS, *BACKUP_COMMANDS]


def register_commands(app: Flask) -> None:
    """Attach every command to ``app.cli`` (so ``flask --app wsgi`` sees them too)."""
    for command in _all_commands():
        _check_arguments(command)
        app.cli.add_command(command)


def _check_arguments(command: click.Command) -> None:
    """Run :func:`refuse_undecodable` on a top-level command's own arguments, once per
    command object: ``flask --app wsgi`` parses with Flask's root group, not :class:`_Main`."""
    if getattr(command, "_utf8_checked", False):
        return
    parse = command.parse_args

    def parse_args(ctx: click.Context, args: list[str]) -> list[str]:
        refuse_undecodable(ctx, args)
        return parse(ctx, args)

    command.parse_args = parse_args  # type: ignore[method-assign]
    command._utf8_checked = True  # type: ignore[attr-defined]


def _create_app() -> Flask:
    from recsys import create_app

    try:
        return create_app()
    except RuntimeError as exc:  # configuration: missing production secrets, bad RECSYS_ENV
        raise click.ClickException(str(exc)) from None


class _Main(click.Group):
    """Root group: operator errors (database, migrations) become one ``Error:`` line; an
    argument that is not UTF-8 is a usage error of every command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        refuse_undecodable(ctx, args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        from alembic.util import CommandError
        from sqlalchemy.exc import DBAPIError

        try:
            return super().invoke(ctx)
        except CommandError as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            raise click.ClickException(f"database error: {exc.orig}{db_hint(exc)}") from None


def refuse_undecodable(ctx: click.Context, args: list[str]) -> None:
    """A usage error (exit 2) naming the first argument that is not valid UTF-8.

    Python decodes the command line with ``surrogateescape``: an undecodable byte becomes a
    lone surrogate (``\\udcff`` for 0xff), which no log line, message or database row can
    hold, so a file name or source in another encoding would fail deep inside a command.
    """
    from recsys.ingest.model import lone_surrogate_at

    for index, arg in enumerate(args):
        if (at := lone_surrogate_at(arg)) is None:
            continue
        bad = arg[at]
        try:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate no byte decodes to (from a caller, not argv)
            shown = arg.encode("utf-8", "backslashreplace").decode("utf-8")
        byte = f"byte 0x{ord(bad) - 0xdc00:02x}" if "\udc80" <= bad <= "\udcff" \
            else f"a lone surrogate \\u{ord(bad):04x}"
        after = f" (after {args[index - 1]})" if index and args[index - 1][:1] == "-" else ""
        raise click.UsageError(
            f"argument '{shown}'{after} is not valid UTF-8 ({byte}): arguments must be UTF-8 "
            "text (a file named in another encoding: rename it, e.g. convmv -f latin1 -t utf8 "
            "--notest FILE)", ctx)


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
