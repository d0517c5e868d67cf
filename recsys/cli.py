"""Thin click commands: ``python -m recsys <command>`` or ``flask --app wsgi <command>``.

Each command parses its options, calls a function of the package, and prints a summary.
Errors the user can fix are reported as ``click.ClickException`` (message, exit code 1).
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext


def _url() -> str:
    return current_app.config["DATABASE_URL"]


@click.group("db")
def db_group() -> None:
    """Database schema migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or upgrade the database schema to REVISION (default: head)."""
    from recsys.db import migrate

    migrate.upgrade(_url(), revision)
    click.echo(f"database at revision {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the database schema to REVISION (e.g. -1 or base)."""
    from recsys.db import migrate

    migrate.downgrade(_url(), revision)


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Show the current schema revision."""
    from recsys.db import migrate

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


def register_commands(app: Flask) -> None:
    """Attach every command to ``app.cli`` (so ``flask --app wsgi`` sees them too)."""
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app() -> Flask:
    from recsys import create_app

    return create_app()


@click.group(name="recsys", help="playlist2vec command line.")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Root group: commands run inside an app context built from the environment."""
    ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False)


for _command in COMMANDS:
    main.add_command(_command)
