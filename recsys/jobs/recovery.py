"""Clean-up after a killed job, run under the job lock before the next one starts.

A job can die at any instruction (SIGKILL, power loss). What it may leave, and what happens:

* an unfinished bundle directory or ``current`` link: removed (:meth:`ModelStore.clean_temporary`);
* a training run still ``running``: marked failed; a complete bundle of a failed run that never
  reached ``model_versions`` (killed or interrupted between writing and registering it) is
  removed: it was neither recorded nor gated (one whose manifest cannot be read is left in
  place with a warning: it is no job's, and must not stop every later job);
* a gate still ``gating`` or ``promoting``: settled from what the store says, promoted or
  interrupted;
* ``current`` switched without its history row: recorded (:func:`registry.reconcile`);
* songs with an empty ``search_key`` (inserted by a release that did not know the column, e.g.
  the old servers while ``db upgrade`` ran: the search never found them): their keys computed
  (:func:`recsys.db.search_key.fill_empty_keys`; one query that finds none, usually).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, select

from recsys.db.models import ModelVersion, TrainingRun
from recsys.db.search_key import fill_empty_keys
from recsys.db.session import session_scope
from recsys.index.bundle import BundleError
from recsys.index.registry import promotion_stack, reconcile
from recsys.index.store import ModelStore
from recsys.jobs.training import fail_interrupted_runs

log = logging.getLogger("recsys.jobs")

#: Verdicts a gate records while it works; a later job finding one knows the run was killed.
UNSETTLED = ("gating", "promoting")
#: How many of the newest runs are checked for an unsettled gate.
RECENT_RUNS = 50


def recover(engine: Engine, store: ModelStore) -> None:
    """Everything above, in order; logs what it found."""
    if (n := store.clean_temporary()):
        log.warning("removed %d unfinished bundle(s) or link(s) left by a crashed run", n)
    fail_interrupted_runs(engine)
    with store.switch_lock():
        reconcile(engine, store)
    remove_unregistered_bundles(engine, store)
    settle_gates(engine, store)
    fill_search_keys(engine)


def fill_search_keys(engine: Engine) -> int:
    """Compute the search keys still empty (each batch its own transaction); logs how many."""
    if (n := fill_empty_keys(engine, log=log)):
        log.warning("computed the search keys of %d song(s) written without one (by a release "
                    "that did not know songs.search_key): the search finds them now", n)
    return n


def remove_unregistered_bundles(engine: Engine, store: ModelStore) -> list[str]:
    """Delete bundles of failed runs that never reached ``model_versions`` (not current)."""
    with session_scope(engine) as session:
        registered = set(session.scalars(select(ModelVersion.version)))
        failed = set(session.scalars(select(TrainingRun.id).where(TrainingRun.status == "failed")))
    current, removed = store.current_version(), []
    for version in store.versions():
        if version in registered or version == current:
            continue
        try:
            run_id = store.open(version, verify=False).manifest.get("training_run_id")
        except (BundleError, OSError) as exc:  # of unknown origin: never to block every run
            log.warning("model store: bundle %s cannot be read (%s); left in place", version,
                        exc)
            continue
        if run_id in failed:
            store.remove(version)
            removed.append(version)
    if removed:
        log.warning("removed %d bundle(s) of interrupted runs, never registered: %s",
                    len(removed), ", ".join(removed))
    return removed


def settle_gates(engine: Engine, store: ModelStore) -> int:
    """Give every gate a killed job left ``gating``/``promoting`` its real outcome."""
    live = set(promotion_stack(engine)) | {store.current_version()}
    settled = 0
    with session_scope(engine) as session:
        runs = session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc())
                               .limit(RECENT_RUNS)).all()
        for run in runs:
            gate = (run.metrics or {}).get("gate") or {}
            if gate.get("verdict") not in UNSETTLED:
                continue
            if gate["verdict"] == "promoting" and run.model_version in live:
                verdict, reason = "promoted", "promoted; the job stopped right after"
            else:
                verdict = "interrupted"
                reason = f"the job stopped while {gate['verdict']}; production was not changed"
            run.metrics = {**run.metrics, "gate": {**gate, "verdict": verdict,
                                                   "reason": f"{reason} ({gate.get('reason')})"}}
            settled += 1
    if settled:
        log.warning("settled %d gate decision(s) left open by a stopped job", settled)
    return settled
