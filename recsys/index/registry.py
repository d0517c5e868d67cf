"""Promotion and rollback of model versions, with their history in the database.

The store's ``current`` link decides what is served; the ``model_events`` table records every
switch (who, when, from which version). Promotion verifies the bundle first, so a corrupt
bundle is never made current. Switches hold the store's switch lock; the link and the table
cannot change in one transaction, so a process killed between the two leaves the link ahead of
the history, and the next switch first records what the link says (:func:`reconcile`).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, select

from recsys.db.installation import installation_id
from recsys.db.models import ModelEvent, ModelVersion, TrainingRun
from recsys.db.session import session_scope
from recsys.index.bundle import BundleError
from recsys.index.owner import INSTALLATION_KEY, ForeignCurrentError
from recsys.index.store import ModelStore

log = logging.getLogger("recsys.index")


def bind_store(engine: Engine, store: ModelStore, write: bool = True) -> str:
    """Bind ``store`` to the database's installation before writing to it on the database's
    behalf: refused (:class:`~recsys.index.owner.StoreOwnedError`) when it belongs to another
    database; returns the installation id. With ``write`` false (a dry run) an unbound store
    is checked the same way but not bound."""
    try:
        installation = installation_id(engine)
    except LookupError as exc:
        raise BundleError(str(exc)) from None
    if store.installation != installation and store.owner() is None:
        current = store.current_version()  # an unbound store serving another database's model
        if current is not None and _trained_elsewhere(engine, store, current):
            raise ForeignCurrentError(store.root, current, installation)
    store.bind(installation, write=write)
    return installation


def _trained_elsewhere(engine: Engine, store: ModelStore, version: str) -> bool:
    """Whether a bundle this database never registered names a training run it has not
    (a bundle made by hand names none: it may be a link set up before any history)."""
    try:
        run_id = store.open(version, verify=False).manifest.get("training_run_id")
    except BundleError:
        return False  # an unreadable current bundle: promotion checks it and says so
    if run_id is None:
        return False
    with session_scope(engine) as session:
        if session.get(ModelVersion, version) is not None:
            return False
        run = session.get(TrainingRun, run_id)
        return run is None or run.model_version != version


def _foreign(session, manifest: dict[str, Any], mine: str) -> str | None:
    """Why a bundle not yet registered was not trained from this database (None: it was, or
    nothing says otherwise)."""
    theirs = manifest.get(INSTALLATION_KEY)
    if theirs is not None and theirs != mine:
        return f"it was trained from another database (installation {theirs}; this is {mine})"
    run_id = manifest.get("training_run_id")
    if run_id is not None and session.get(TrainingRun, run_id) is None:
        return (f"its training run {run_id} is not in this database (a bundle of another "
                "database, or trained after the backup this database was restored from)")
    return None


def register(engine: Engine, store: ModelStore, version: str) -> None:
    """Record a committed bundle in ``model_versions`` (idempotent). The store must belong to
    this database (:func:`bind_store`), and a bundle trained from another database is refused
    (its song ids are another catalog's)."""
    mine = bind_store(engine, store)
    manifest = store.open(version, verify=False).manifest
    with session_scope(engine) as session:
        row = session.get(ModelVersion, version)
        if row is None:
            why = _foreign(session, manifest, mine)
            if why is not None:
                raise BundleError(f"model {version} is not registered in this database and "
                                  f"cannot be: {why}; its song ids are not this catalog's. "
                                  "Train one from this database (python -m recsys train)")
            row = ModelVersion(version=version)
            session.add(row)
        row.training_run_id = manifest.get("training_run_id")
        row.metrics = manifest.get("metrics", {})
        row.manifest = {k: v for k, v in manifest.items() if k != "files"}


def _push(stack: list[str], action: str, version: str, previous: str | None) -> None:
    """Apply one switch to a promotion stack (in place)."""
    if action == "promote":
        if not stack and previous is not None:
            stack.append(previous)
        if not stack or stack[-1] != version:  # re-promoting is no new step
            stack.append(version)
    elif action == "rollback" and stack:
        stack.pop()


def _history(engine: Engine) -> tuple[list[str], str | None]:
    """The promotion stack and the version of the last recorded switch (None: no history)."""
    stack: list[str] = []
    last = None
    with session_scope(engine) as session:
        for event in session.scalars(select(ModelEvent).order_by(ModelEvent.id)):
            _push(stack, event.action, event.version, event.previous_version)
            last = event.version
    return stack, last


def promotion_stack(engine: Engine) -> list[str]:
    """Versions made current, oldest first, with rolled-back ones popped off.

    A version that was current before the first recorded promotion (set up by hand, or before
    history was kept) is the bottom of the stack, so the first promotion can be rolled back.
    """
    return _history(engine)[0]


def _unrecorded_switch(stack: list[str], last: str | None, current: str | None) -> str | None:
    """The action of a switch of ``current`` that has no history row yet (None: there is
    none): a return to the version below the top is taken for a rollback."""
    if current is None or last is None or current == last:
        return None  # consistent, or a link set up by hand before any history
    return "rollback" if len(stack) >= 2 and stack[-2] == current else "promote"


class ProductionChangedError(BundleError):
    """The current model is no longer the one the caller decided against."""


def reconcile(engine: Engine, store: ModelStore) -> bool:
    """Record a switch of ``current`` that a killed process made without its history row
    (actor ``recovered``); returns whether one was recorded. Call under the switch lock."""
    current = store.current_version()
    stack, last = _history(engine)
    action = _unrecorded_switch(stack, last, current)
    if action is None:
        return False
    register(engine, store, current)
    with session_scope(engine) as session:
        session.add(ModelEvent(action=action, version=current, previous_version=last,
                               actor="recovered", note="the current link was switched but the "
                               "process stopped before recording it"))
    log.warning("recorded an interrupted %s: current model %s -> %s", action, last, current)
    return True


def _switch(
    engine: Engine, store: ModelStore, version: str, action: str, actor: str | None,
    note: str | None,
) -> str | None:
    """Switch ``current`` and record it (the caller holds the switch lock)."""
    store.open(version, verify=True)  # refuses missing or corrupt bundles
    register(engine, store, version)
    reconcile(engine, store)
    previous = store.current_version()
    with session_scope(engine) as session:
        session.add(ModelEvent(action=action, version=version, previous_version=previous,
                               actor=actor, note=note))
        session.flush()
        store.set_current(version)
        try:
            session.commit()
        except Exception:
            if previous is not None:
                store.set_current(previous)
            raise
    log.info("%s: current model %s -> %s", action, previous, version)
    return previous


_UNSET = object()


def promote(
    engine: Engine, store: ModelStore, version: str, actor: str | None = None,
    note: str | None = None, expect_current: str | None | object = _UNSET,
) -> str | None:
    """Make ``version`` current; returns the previous current version.

    Promoting the version that is already current changes nothing and records no event (a
    repeated command or form must not push a duplicate that a later rollback would pop).
    ``expect_current``: refuse (:class:`ProductionChangedError`) unless this version is still
    current, e.g. the one a gate compared against (an operator may have switched since).
    """
    with store.switch_lock():
        bind_store(engine, store)  # another database's store: refused before anything
        current = store.current_version()
        if expect_current is not _UNSET and current != expect_current:
            raise ProductionChangedError(f"the current model changed from {expect_current} to "
                                    f"{current} since the decision; {version} not promoted")
        if version == current:
            store.open(version, verify=True)  # still refuses a corrupt current bundle
            log.info("promote: %s is already the current model; nothing done", version)
            return version
        return _switch(engine, store, version, "promote", actor, note)


def rollback_target(engine: Engine, store: ModelStore) -> str | None:
    """The version a rollback would make current (None: nothing to roll back to).

    A switch of ``current`` whose history row is missing (its process was killed in between,
    or is committing it right now) counts as :func:`reconcile` will record it, so the target
    shown before the reconciliation is the one a rollback then returns to. Writes nothing.
    """
    current = store.current_version()
    stack, last = _history(engine)
    action = _unrecorded_switch(stack, last, current)
    if action is not None:
        _push(stack, action, current, last)
    if len(stack) < 2 or stack[-1] != current:
        return None
    return stack[-2]


def rollback(engine: Engine, store: ModelStore, actor: str | None = None,
             expected_target: str | None = None) -> str:
    """Return to the version that was current before the current one; returns it.

    ``expected_target``: the version the caller showed its user (``""``: none was offered);
    another target (the history changed since) raises :class:`ProductionChangedError` and
    switches nothing.
    """
    with store.switch_lock():
        bind_store(engine, store)  # another database's store: refused before anything
        reconcile(engine, store)
        current = store.current_version()
        target = rollback_target(engine, store)
        if target is None:
            raise BundleError("nothing to roll back to: no earlier promoted version")
        if expected_target is not None and target != expected_target:
            raise ProductionChangedError(
                f"a rollback now returns to {target}, not "
                f"{expected_target or 'nowhere (none was offered)'}: the history changed since "
                "the page was loaded")
        _switch(engine, store, target, "rollback", actor, f"rolled back from {current}")
    return target


def list_models(engine: Engine, store: ModelStore, verify: bool = False
                ) -> list[dict[str, Any]]:
    """Every committed version with its metrics and whether it is current, newest first;
    ``verify`` checks every file's checksum (a broken bundle's row carries its ``error``)."""
    current = store.current_version()
    rows = []
    for version in reversed(store.versions()):
        try:
            manifest = store.open(version, verify=verify).manifest
        except BundleError as exc:
            rows.append({"version": version, "error": str(exc),
                         "current": version == current})
            continue
        rows.append({
            "version": version,
            "current": version == current,
            "created_at": manifest.get("created_at"),
            "metrics": manifest.get("metrics", {}),
            "data_snapshot": manifest.get("data_snapshot", {}),
        })
    return rows


def prune(engine: Engine, store: ModelStore, keep: int, dry_run: bool = False) -> list[str]:
    """Delete all but the ``keep`` newest bundles (in commit order, :meth:`ModelStore.versions`);
    returns the versions removed (or that would be, with ``dry_run``). The current version
    and the one a rollback would return to are always kept; their history stays in the
    database. Holds the switch lock: a promotion,
    rollback or backup (which copies the bundles) waits, and prune waits for them."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    try:
        store.root.stat()  # an unusable path (under a file) raises: said, not passed over
    except FileNotFoundError:  # nothing to prune: the lock must not make a store here
        return []
    with store.switch_lock():  # no switch meanwhile, nor a backup copying the bundles
        bind_store(engine, store, write=not dry_run)  # another database's: refused first
        reconcile(engine, store)  # a switch killed before its row: its rollback target counts
        versions = store.versions()  # oldest first
        protected = set(versions[-keep:])
        protected |= {store.current_version(), rollback_target(engine, store)}
        doomed = [v for v in versions if v not in protected]
        if not dry_run:
            for version in doomed:
                store.remove(version)
    if doomed and not dry_run:
        log.info("pruned %d model bundle(s): %s", len(doomed), ", ".join(doomed))
    return doomed
