"""Serving and model-management commands: serve, promote, rollback, models, models prune,
models adopt-store.

Thin wrappers over :mod:`recsys.serving` and :mod:`recsys.index.registry`.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


def _url() -> str:
    return current_app.config["DATABASE_URL"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: 2 x CPU cores).")
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True,
              help="Threads per worker.")
@click.option("--dev", is_flag=True, help="Flask's development server (refused in production).")
def serve_cmd(host: str, port: int, workers: int | None, threads: int, dev: bool) -> None:
    """Serve the API with gunicorn; promoted models are picked up without a restart."""
    from recsys import serving

    try:
        if dev:
            serving.serve_dev(host, port)
        else:
            serving.serve(host, port, workers, threads)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


def _registry_call(func, *args):
    """Run a registry function on the app's database and model store; errors exit 1."""
    from recsys.cli_common import require_schema
    from recsys.db.session import make_engine
    from recsys.index.bundle import BundleError
    from recsys.index.store import ModelStore

    require_schema()
    engine = make_engine(_url())
    try:
        return func(engine, ModelStore(current_app.config["MODEL_DIR"]), *args)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a read-only or unusable model store: one line, no traceback
        raise click.ClickException(f"model store: {exc}") from None
    finally:
        engine.dispose()


@click.command("promote")
@click.argument("version")
@with_appcontext
def promote_cmd(version: str) -> None:
    """Verify model VERSION and make it current (servers pick it up without restart)."""
    from recsys.index.registry import promote

    previous = _registry_call(lambda e, s: promote(e, s, version, actor="cli"))
    if previous == version:
        click.echo(f"current model: {version} (already current; nothing done)")
    else:
        click.echo(f"current model: {version} (was {previous or 'none'})")


@click.command("rollback")
@with_appcontext
def rollback_cmd() -> None:
    """Make the previously promoted version current again."""
    from recsys.index.registry import rollback

    target = _registry_call(lambda e, s: rollback(e, s, actor="cli"))
    click.echo(f"current model: {target} (rolled back)")


@click.group("models", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--verify", is_flag=True,
              help="Also check every file's checksum (reads every bundle; exit 1 if one fails).")
@click.pass_context
@with_appcontext
def models_cmd(ctx: click.Context, as_json: bool, verify: bool) -> None:
    """List model versions: current mark, creation time, metrics (see also `models prune`)."""
    if ctx.invoked_subcommand is not None:
        return
    import json

    from recsys.index.registry import list_models

    rows = _registry_call(lambda e, s: list_models(e, s, verify=verify))
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no model versions yet (python -m recsys train)")
        return
    # names of older code are 23 characters, newer ones (microseconds) 29: one column for both
    width = max(len("VERSION"), *(len(row["version"]) for row in rows))
    click.echo(f"  {'VERSION':<{width}} {'CREATED':<26} METRICS")
    for row in rows:
        mark = "*" if row.get("current") else " "
        metrics = dict(row.get("metrics") or {})
        for mode, key in (("next", "hr@10"), ("similar", "tag_coherence")):  # the gate's
            if isinstance(metrics.get(mode), dict) and key in metrics[mode]:
                metrics[f"{mode}.{key}"] = metrics[mode][key]
        shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in sorted(metrics.items()) if not isinstance(v, dict))
        detail = row.get("error") or shown or "-"
        click.echo(f"{mark} {row['version']:<{width}} {row.get('created_at') or '-':<26} "
                   f"{detail}")
    if verify:
        broken = [row["version"] for row in rows if row.get("error")]
        click.echo(f"verified {len(rows)} bundle(s): "
                   + (f"{len(broken)} broken: {', '.join(broken)}" if broken else "all intact"))
        if broken:
            ctx.exit(1)


@models_cmd.command("prune")
@click.option("--keep", type=click.IntRange(min=1), required=True,
              help="How many of the newest bundles to keep.")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@with_appcontext
def prune_cmd(keep: int, dry_run: bool) -> None:
    """Delete old model bundles (never the current one or the rollback target)."""
    from recsys.index.registry import prune

    def run(engine, store):
        found = prune(engine, store, keep, dry_run=dry_run)
        return found, [v for v in store.versions() if v not in found]

    removed, left = _registry_call(run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(removed)} bundle(s){': ' if removed else ''}{', '.join(removed)}")
    if len(left) > keep:
        click.echo(f"{'would keep' if dry_run else 'kept'} {len(left)}: the {keep} newest plus the "
                   "current version and the rollback target, which are never deleted")


@models_cmd.command("adopt-store")
@click.option("--yes", is_flag=True, help="Do not ask (scripts; required when not on a terminal).")
@with_appcontext
def adopt_store_cmd(yes: bool) -> None:
    """Bind the model store to this database, whoever it belonged to.

    Only for a database that replaced the store's on purpose (re-created; a restored backup
    keeps its installation and needs no adoption): the other database can no longer train,
    promote, roll back or prune there.
    """
    import sys

    from recsys.db.installation import installation_id
    from recsys.index.bundle import BundleError

    def run(engine, store):
        try:
            mine = installation_id(engine)
        except LookupError as exc:
            raise BundleError(str(exc)) from None
        try:
            owner = store.owner()
        except BundleError as exc:  # an unreadable record: adopting rewrites it
            owner = f"unknown ({exc})"
        if owner == mine:
            return mine, mine, None
        if owner is not None:
            click.echo(f"model store {store.root} belongs to installation {owner}; this "
                       f"database is installation {mine}. Adopting it refuses the other "
                       "database's training, promotions, rollbacks and pruning there.")
            if not yes:
                if not sys.stdin.isatty():
                    raise click.ClickException("nothing done: add --yes to adopt the store")
                click.confirm("Adopt the model store for this database?", abort=True)
        return mine, store.adopt(mine), store.current_version()

    mine, previous, current = _registry_call(run)
    where = current_app.config["MODEL_DIR"]
    if previous == mine:
        click.echo(f"model store {where} already belongs to this database (installation "
                   f"{mine}); nothing done")
        return
    click.echo(f"model store {where} now belongs to this database (installation {mine}; "
               f"was {previous or 'nobody'})")
    if previous is not None and current is not None:
        click.echo(f"the current model {current} was trained from the previous owner: promote "
                   "one trained from this database (python -m recsys train --promote)")


COMMANDS: list[click.Command] = [serve_cmd, promote_cmd, rollback_cmd, models_cmd]
