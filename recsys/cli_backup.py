"""``backup DEST``: a consistent copy of the database and the model bundles (see
:mod:`recsys.jobs.backup`; README "Backups and restore")."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from recsys.cli_common import FiniteFloatRange, engine_and_store


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--wait", "wait_s", type=FiniteFloatRange(min=0), default=3600.0,
              show_default=True,
              help="Seconds to wait for a running nightly job (or training) to finish.")
@with_appcontext
def backup_cmd(dest: str, wait_s: float) -> None:
    """Copy the database (SQLite online backup, or pg_dump) and every model bundle with the
    current link into DEST, a new or empty directory, while servers keep running."""
    from recsys.jobs.backup import BackupError, backup

    # an older schema too: the backup taken before `db upgrade` is the one to restore if the
    # upgrade goes wrong (and the release being replaced may have no backup command)
    engine, store = engine_and_store(allow_older=True)
    try:
        report = backup(engine, store, dest, wait_s=wait_s)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.summary())


COMMANDS: list[click.Command] = [backup_cmd]
