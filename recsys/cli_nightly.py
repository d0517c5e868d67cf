"""CLI command of the nightly retraining job (``retrain``), for cron or a scheduler."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from recsys.cli_common import (
    FiniteFloatRange,
    engine_and_store,
    load_settings,
    settings_options,
)
from recsys.cli_import import import_mode_options

#: Exit status of ``retrain`` when the gate kept production (1 = the job failed).
GATE_REFUSED_EXIT = 3
#: The ``KIND`` of ``--import KIND:PATH[:SOURCE]``.
IMPORT_KINDS = ("yes", "csv", "jsonl")


def import_spec(text: str):
    """``KIND:PATH[:SOURCE]`` as an ``ImportSpec``. A path may hold ``:`` (timestamped names):
    the source is what follows the last ``:`` unless the whole rest names an existing file or
    that would hold a ``/`` (no source does: ``yes:/data/yes:big/dir`` is the path
    ``/data/yes:big/dir``, even when ``/data/yes`` exists)."""
    from recsys.jobs.nightly import ImportSpec

    kind, _, rest = text.partition(":")
    path, src = rest, ""
    if ":" in rest and not Path(rest).exists():
        head, _, tail = rest.rpartition(":")
        if "/" not in tail and os.sep not in tail:
            path, src = head, tail
    if not kind or not path:
        raise click.BadParameter(f"expected KIND:PATH[:SOURCE], got {text!r}",
                                 param_hint="--import")
    if kind not in IMPORT_KINDS:  # a usage error: nothing runs, no failed night is recorded
        raise click.BadParameter(f"unknown import kind {kind!r} in {text!r}; expected "
                                 f"{', '.join(IMPORT_KINDS)}", param_hint="--import")
    return ImportSpec(kind, path, src or None)


@click.command("retrain")
@settings_options
@click.option("--import", "imports", multiple=True, metavar="KIND:PATH[:SOURCE]",
              help="Import first, e.g. --import yes:/data/yes_big:yes_big (repeatable; "
                   "KIND yes, csv or jsonl; a PATH may hold ':').")
@import_mode_options(each="For every --import: ")
@click.option("--holdout", type=FiniteFloatRange(0, 0.5), default=0.1, show_default=True,
              help="Fraction of playlists held out (stable by source:external_id) for the gate.")
@click.option("--tolerance", type=FiniteFloatRange(0, 1), default=0.0, show_default=True,
              help="Promote if each gate metric >= production * (1 - tolerance).")
@click.option("--noise-z", type=FiniteFloatRange(0, 10), default=0.0, show_default=True,
              help="Also promote if each metric is less than this many standard errors of the "
                   "paired difference below production.")
@click.option("--backend", type=click.Choice(["annoy", "exact"]), default="annoy",
              show_default=True, help="ANN index of the bundle.")
@click.option("--dry-run", is_flag=True,
              help="Import, train and gate, but do not promote (the imports, the bundle and "
                   "the training run are kept).")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Then delete all but this many newest bundles (never the current one or "
                   "the rollback target).")
@with_appcontext
def retrain_cmd(config_path, overrides, imports, mode, holdout, tolerance, noise_z, backend,
                dry_run, keep) -> None:
    """The nightly job: import, train, evaluate against production, promote if not worse.

    Exit status: 0 promoted (or passed with --dry-run), 3 the gate kept production, 1 error,
    143 stopped by SIGTERM (cleaned up like an error).
    """
    from recsys.ingest.model import IngestError
    from recsys.jobs.nightly import JobLockedError, run_nightly
    from recsys.jobs.signals import TERMINATED_EXIT, Terminated, sigterm_raises
    from recsys.jobs.training import describe_failure

    specs = [import_spec(text) for text in imports]
    if (mode["update"] or mode["snapshot"]) and not specs:
        flag = "--snapshot" if mode["snapshot"] else "--update"
        raise click.UsageError(f"{flag} applies to the files of --import; none was given")
    for spec in specs:
        spec.update, spec.snapshot = mode["update"], mode["snapshot"]
        spec.max_delete = mode.get("max_delete")
    settings = load_settings(config_path, overrides)
    engine, store = engine_and_store()
    try:
        with sigterm_raises():
            report = run_nightly(engine, store, settings, imports=specs,
                                 holdout_frac=holdout, tolerance=tolerance, noise_z=noise_z,
                                 backend=backend, dry_run=dry_run, keep=keep)
    except (IngestError, JobLockedError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # a full disk, a read-only model store: one line, no traceback
        raise click.ClickException(describe_failure(exc, store.root)) from exc
    except Terminated as exc:
        click.echo(f"retrain {exc}; production serves {store.current_version()}", err=True)
        sys.exit(TERMINATED_EXIT)
    for item in report.imports:
        click.echo(item["summary"])
    if report.promoted:
        verdict = "promoted"
    elif dry_run and report.gate_passed:
        verdict = "gate passed, not promoted (--dry-run)"
    else:
        verdict = "not promoted: the gate kept production"
    click.echo(f"model {report.version}: {verdict} ({report.reason})")
    if report.next_hr_over_best_baseline is not None:
        click.echo("next HR@10 / best counting baseline on the holdout: "
                   f"{report.next_hr_over_best_baseline:.3f}")
    if report.pruned:
        click.echo(f"deleted {len(report.pruned)} old bundle(s): {', '.join(report.pruned)}")
    if not report.gate_passed:
        sys.exit(GATE_REFUSED_EXIT)


COMMANDS = [retrain_cmd]
