"""Overview, models (promote / roll back) and training-run pages."""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from recsys.admin import bp, queries
from recsys.admin.auth import current_user
from recsys.api import deps
from recsys.db.models import ID_MAX
from recsys.extensions import db
from recsys.index.bundle import BundleError
from recsys.index.registry import promote, rollback, rollback_target
from recsys.index.store import ModelStore
from recsys.recommend.beacon import read_workers, workers_dir

log = logging.getLogger("recsys.admin")

RUNS_PER_PAGE = 25
MAX_PAGE = 10**9  # larger pages would overflow the database's OFFSET


def _store() -> ModelStore:
    return deps.holder().store


#: Workers silent for longer than this are no longer listed (a stopped server's files).
WORKERS_FORGET_S = 600


def _workers(store: ModelStore, current: str | None) -> dict:
    """Server workers seen in the last ``WORKERS_FORGET_S`` (``rows``; those that missed a few
    of their model checks, one per poll interval, are marked ``stale``), how many are still
    reporting (``live``) and how many of those serve ``current`` (``on_current``)."""
    poll = current_app.config.get("MODEL_POLL_SECONDS") or 0
    fresh = max(3 * poll, 15)
    rows = read_workers(workers_dir(store.root), max_age_s=WORKERS_FORGET_S)
    for worker in rows:
        worker["stale"] = worker["age_s"] > fresh
    live = [w for w in rows if not w["stale"]]
    return {"rows": rows, "live": len(live),
            "on_current": sum(w["version"] == current for w in live)}


def page_arg() -> int:
    try:
        return min(MAX_PAGE, max(1, int(request.args.get("page", "1"))))
    except ValueError:
        return 1


def _changed_since_page_load(store: ModelStore) -> bool:
    """True (with a flash) when the form was rendered for another current version: a stale
    page or a second submit of the same form must not switch models again."""
    expected = request.form.get("expected_current")
    current = store.current_version() or ""
    if expected is None:  # every form sends it: a request without it was not made by one
        flash("Nothing done: the form did not say which model it was shown for. Reload the "
              "page and try again.", "error")
        return True
    if expected == current:
        return False
    flash(f"Nothing done: the current model changed since the page was loaded "
          f"(it is now {current or 'none'}). Check the page and try again.", "error")
    return True


@bp.get("/")
def overview():
    """Data counts, latest imports, the current model and what this process serves."""
    store = _store()
    current = store.current_version()
    current_row = None
    if current is not None:
        try:
            current_row = store.open(current, verify=False).manifest
        except BundleError as exc:
            flash(f"The current model {current} cannot be read: {store.without_paths(exc)}",
                  "error")
    model = deps.current_model()
    return render_template(
        "admin/overview.html",
        counts=queries.data_counts(db.session),
        imports=queries.latest_imports(db.session),
        last_run=queries.latest_training_run(db.session),
        last_event=next(iter(queries.model_events(db.session, limit=1)), None),
        current=current,
        manifest=current_row,
        loaded=model.version if model is not None else None,
        loaded_songs=len(model) if model is not None else 0,
        load_error=deps.holder().last_error,
        poll_seconds=current_app.config.get("MODEL_POLL_SECONDS"),
        workers=_workers(store, current),
    )


@bp.get("/models")
def models():
    """Every model version, its metrics and index parameters, and the event history."""
    store = _store()
    model = deps.current_model()
    current = store.current_version()
    rows = queries.model_rows(db.engine, store)
    for row in rows:  # a broken bundle's error names its files: not the server's directories
        if row.get("error"):
            row["error"] = store.without_paths(row["error"])
    current_metrics = next((r.get("metrics") for r in rows if r["version"] == current), None)
    return render_template(
        "admin/models.html",
        rows=rows,
        current_metrics=current_metrics,
        events=queries.model_events(db.session),
        current=current,
        rollback_target=rollback_target(db.engine, store),
        loaded=model.version if model is not None else None,
        workers=_workers(store, current),
    )


@bp.post("/models/<version>/promote")
def promote_version(version: str):
    """Make ``version`` current (verified first); errors become a flash message."""
    store = _store()
    if _changed_since_page_load(store):
        return redirect(url_for("admin.models"))
    try:
        previous = promote(db.engine, store, version, actor=current_user(),
                           note="admin dashboard")
    except (BundleError, OSError) as exc:
        log.warning("admin: promotion of %r refused: %s", version, exc)
        flash(f"Promotion of {version} refused: {store.without_paths(exc)}", "error")
    else:
        if previous == version:  # the registry records nothing for the current version
            flash(f"{version} is already the current model; nothing done.", "info")
            return redirect(url_for("admin.models"))
        deps.holder().refresh(wait=False)  # this process starts loading it now
        flash(f"Promoted {version} (was {previous or 'none'}).", "success")
    return redirect(url_for("admin.models"))


@bp.post("/models/rollback")
def rollback_version():
    """Return to the previously promoted version; errors become a flash message."""
    store = _store()
    if _changed_since_page_load(store):
        return redirect(url_for("admin.models"))
    current = store.current_version()
    expected_target = request.form.get("expected_target")
    if expected_target is None:  # the page's form sends it ("" when it offered no rollback)
        flash("Nothing done: the form did not say which version it rolls back to. Reload the "
              "page and try again.", "error")
        return redirect(url_for("admin.models"))
    try:
        target = rollback(db.engine, store, actor=current_user(),
                          expected_target=expected_target)
    except (BundleError, OSError) as exc:
        log.warning("admin: rollback refused: %s", exc)
        flash(f"Rollback refused: {store.without_paths(exc)}", "error")
    else:
        deps.holder().refresh(wait=False)
        flash(f"Rolled back from {current} to {target}.", "success")
    return redirect(url_for("admin.models"))


@bp.get("/runs")
def runs():
    """Training runs, newest first, paginated."""
    page = page_arg()
    rows, total = queries.training_runs(db.session, RUNS_PER_PAGE, (page - 1) * RUNS_PER_PAGE)
    pages = max(1, -(-total // RUNS_PER_PAGE))
    return render_template("admin/runs.html", runs=rows, total=total, page=page, pages=pages)


@bp.get("/runs/<int:run_id>")
def run_detail(run_id: int):
    """One training run: settings, data snapshot, metrics, error."""
    run = queries.training_run(db.session, run_id) if run_id <= ID_MAX else None
    if run is None:
        abort(404, description=f"There is no training run {run_id}.")
    return render_template("admin/run.html", run=run)
