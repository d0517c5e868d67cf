"""The nightly retraining job: import -> train -> evaluate -> gate -> promote.

Only one run at a time (an exclusive lock file). Every step is safe to crash in: imports are
transactional, a bundle becomes visible only when complete, and ``current`` is switched by one
atomic rename after the gate passed — until then production keeps serving the previous model.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recsys.index.owner import StoreOwnedError
from recsys.index.registry import ProductionChangedError, bind_store, promote, prune
from recsys.index.store import ModelStore
from recsys.ingest.model import printable
from recsys.jobs.gate import decision_record, gate
from recsys.jobs.joblock import JobLockedError, job_lock  # noqa: F401 (its home until now)
from recsys.jobs.recovery import recover, settle_gates
from recsys.jobs.training import (
    describe_failure,
    record_failed_job,
    record_gate,
    train_and_bundle,
)
from recsys.ml.settings import TrainSettings

log = logging.getLogger("recsys.jobs")


@dataclass
class ImportSpec:
    """One file or directory to import before training; ``update``: the file's titles,
    artists, playlist items and names replace the stored ones of the rows it names;
    ``snapshot``: also delete the source's playlists it does not name, at most ``max_delete``
    of them (:func:`recsys.ingest.importers.import_catalog`)."""

    kind: str  # yes | csv | jsonl
    path: str
    source: str | None = None
    update: bool = False
    snapshot: bool = False
    max_delete: float | None = None

    def describe(self) -> str:
        """``KIND:PATH[:SOURCE]`` as given (:func:`printable`), plus `` (--update)`` or
        `` (--snapshot)``: the log says where a file went and how it was applied."""
        text = f"{self.kind}:{self.path}" + (f":{self.source}" if self.source else "")
        return printable(text) + (" (--snapshot)" if self.snapshot else " (--update)"
                                  if self.update else "")

    def mode(self) -> dict[str, Any]:
        """The importer's keywords for ``update``, ``snapshot`` and ``max_delete``."""
        mode: dict[str, Any] = {"update": self.update, "snapshot": self.snapshot}
        if self.max_delete is not None:
            mode["max_delete"] = self.max_delete
        return mode

    def target_source(self) -> str:
        """The source a csv or jsonl import writes to (the importers' default when none is
        given)."""
        from recsys.ingest.importers import DEFAULT_SOURCE

        return self.source.strip() if self.source else DEFAULT_SOURCE


def check_snapshots(imports: Sequence[ImportSpec]) -> None:
    """Refuse, before importing anything, snapshot imports that cannot work: of a Yes.com
    directory (playlists numbered by line), or two of one source (each deletes its source's
    playlists that its file lacks, so the second would delete the first one's).

    Raises:
        ValueError: naming the imports at fault.
    """
    from recsys.ingest.importers import YES_SNAPSHOT

    seen: dict[str, ImportSpec] = {}
    for spec in imports:
        if not spec.snapshot:
            continue
        if spec.kind == "yes":
            raise ValueError(f"--import {spec.describe()}: {YES_SNAPSHOT}")
        source = spec.target_source()
        if source in seen:
            raise ValueError(
                f"--import {seen[source].describe()} and --import {spec.describe()} are both "
                f"snapshots of source {source!r}: the second would delete the first one's "
                "playlists. Send one file per source, or import them without --snapshot")
        seen[source] = spec


@dataclass
class NightlyReport:
    """What the run did."""

    imports: list[dict[str, Any]] = field(default_factory=list)
    #: Bundles deleted by ``keep`` after the run.
    pruned: list[str] = field(default_factory=list)
    version: str | None = None
    run_id: int | None = None
    promoted: bool = False
    #: The gate's verdict (with ``dry_run`` it can pass without a promotion).
    gate_passed: bool = False
    dry_run: bool = False
    reason: str = ""
    previous_version: str | None = None
    duration_s: float = 0.0
    #: The candidate's next HR@10 over the best counting baseline on the holdout (None: none).
    next_hr_over_best_baseline: float | None = None
    #: The import running when the job stopped (``KIND:PATH``); None once training began.
    importing: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def log_line(self) -> str:
        """One line for the log: the imports were logged when they ran."""
        added = sum(item["playlists_added"] for item in self.imports)
        deleted = sum(item.get("playlists_deleted", 0) for item in self.imports)
        ratio = self.next_hr_over_best_baseline
        return (f"model {self.version} (run {self.run_id}) "
                f"{'promoted' if self.promoted else 'not promoted'}: {self.reason}; "
                f"{len(self.imports)} import(s), {added:,} playlists added"
                f"{f', {deleted:,} deleted' if deleted else ''}; "
                f"next HR@10 / best baseline {'n/a' if ratio is None else f'{ratio:.3f}'}; "
                f"{len(self.pruned)} bundle(s) pruned; {self.duration_s:.1f} s")


@contextmanager
def pipeline_lock(engine: Engine, store: ModelStore, lock_path: Path | None = None,
                  holder: str = "retrain") -> Iterator[None]:
    """The job lock of the store, then clean-up after a killed run (safe only while holding
    it; :func:`recovery.recover`). A store of another database is refused first
    (:func:`registry.bind_store`): its lock, clean-up and bundles are not this job's."""
    bind_store(engine, store)
    with job_lock(lock_path or store.root / "retrain.lock", holder=holder):
        recover(engine, store)
        yield


def run_imports(engine: Engine, imports: Sequence[ImportSpec],
                report: NightlyReport | None = None) -> list[dict[str, Any]]:
    """Run each import (each its own transaction); stop at the first bad file. ``report``
    follows along: which import is running (``importing``) and which are done."""
    from recsys.ingest import importers

    funcs = {"yes": importers.import_yes, "csv": importers.import_csv,
             "jsonl": importers.import_jsonl}
    if report is not None and imports:  # a refusal below is a failed night, recorded
        report.importing = ", ".join(spec.describe() for spec in imports)
    check_snapshots(imports)
    done = [] if report is None else report.imports
    for spec in imports:
        if report is not None:
            report.importing = printable(f"{spec.kind}:{spec.path}")
        if spec.kind not in funcs:
            raise ValueError(f"unknown import kind {spec.kind!r}; expected yes, csv or jsonl")
        kwargs = {"progress": False, **spec.mode()}
        if spec.source:
            kwargs["source"] = spec.source
            if not Path(spec.path).exists():  # a ':' in a path without :SOURCE is split too
                from recsys.ingest.model import IngestError

                raise IngestError(spec.path, None, (
                    f"no such file or directory (--import {spec.describe()}: the source is "
                    "what follows the last ':' unless the whole path exists; a path holding "
                    "':' takes :SOURCE after it)"))
        result = funcs[spec.kind](engine, spec.path, **kwargs)  # logs its own summary
        done.append({"kind": spec.kind, "path": printable(spec.path),
                     "summary": result.summary(),
                     "playlists_added": result.playlists_added,
                     "songs_updated": result.songs_updated,
                     "playlists_replaced": result.playlists_replaced,
                     "playlists_deleted": result.playlists_deleted})
    if report is not None:
        report.importing = None
    return done


def run_nightly(
    engine: Engine, store: ModelStore, settings: TrainSettings, *,
    imports: Sequence[ImportSpec] = (), holdout_frac: float = 0.1, tolerance: float = 0.0,
    noise_z: float = 0.0, backend: str = "annoy", source: str | None = None,
    lock_path: Path | None = None, dry_run: bool = False, keep: int | None = None,
) -> NightlyReport:
    """Run the whole pipeline once; ``tolerance`` and ``noise_z`` are the gate's margins
    (:func:`~recsys.jobs.gate.gate`); ``dry_run`` trains and gates but never promotes; ``keep``
    then deletes all but that many of the newest bundles (see :func:`registry.prune`)."""
    started = time.perf_counter()
    report = NightlyReport(dry_run=dry_run)
    log.info("nightly run started: imports %s, dry_run=%s",
             [s.describe() for s in imports] or "none", dry_run)
    try:
        with pipeline_lock(engine, store, lock_path):
            try:
                _run_locked(engine, store, settings, report, imports, holdout_frac,
                            (tolerance, noise_z), backend, source, dry_run)
                if keep:
                    report.pruned = prune(engine, store, keep)
            except BaseException:
                # a gate it left open says so now, not next run; only under the lock: a run
                # refused by it must not settle the gate of the run holding it
                with contextlib.suppress(Exception):
                    settle_gates(engine, store)
                raise
    except BaseException as exc:
        took, why = time.perf_counter() - started, describe_failure(exc, store.root)
        log.error("nightly run failed after %.1f s: %s", took, why)
        if report.importing is not None:  # no training run would say the night failed
            done = ", ".join(f"{i['kind']}:{i['path']}" for i in report.imports) or "none"
            _record_failure(engine, settings, report, took, printable(
                f"nightly job stopped in the import of {report.importing}, before training; "
                f"production unchanged; imports committed before it: {done}. {why}"), {
                "stage": "import", "failed_import": printable(report.importing or ""),
                "imports_done": printable(done)})
        elif isinstance(exc, StoreOwnedError):  # refused before anything: the dashboard says so
            _record_failure(engine, settings, report, took, printable(
                f"nightly job refused, nothing imported or trained: {why}"), {"stage": "store"})
        raise
    report.duration_s = round(time.perf_counter() - started, 2)
    log.info("nightly run finished: %s", report.log_line())
    return report


def _record_failure(engine: Engine, settings: TrainSettings, report: NightlyReport,
                    took: float, error: str, snapshot: dict[str, str]) -> None:
    """A failed training run for a night that stopped before training (``error`` storable
    whatever the file names and messages held)."""
    try:
        report.run_id = record_failed_job(engine, settings, error, took, snapshot)
    except Exception as exc:  # the database may be what failed
        log.warning("could not record the failed job: %s", exc)
    else:
        log.info("recorded as failed training run %d", report.run_id)


def _run_locked(engine, store, settings, report, imports, holdout_frac, margins, backend,
                source, dry_run) -> None:
    report.imports = run_imports(engine, imports, report)
    outcome = train_and_bundle(engine, store, settings, holdout_frac=holdout_frac,
                               source=source, backend=backend)
    report.version, report.run_id = outcome.version, outcome.run_id
    report.next_hr_over_best_baseline = (
        outcome.metrics.get("baselines", {}).get("next_hr_over_best"))
    record_gate(engine, outcome.run_id, {  # what a job killed in the gate leaves behind
        "verdict": "gating", "reason": "comparing with production", "metrics": {},
        "production_version": store.current_version(), "tolerance": margins[0],
        "noise_z": margins[1]})
    decision = gate(engine, store, outcome.version, holdout_frac=holdout_frac,
                    source=source, tolerance=margins[0], noise_z=margins[1])
    report.reason = decision.reason
    report.gate_passed = decision.promote
    verdict = "kept production" if not decision.promote else "passed (dry run)"
    if decision.promote and not dry_run:
        record_gate(engine, outcome.run_id, decision_record(decision, "promoting", *margins))
        try:
            report.previous_version = promote(
                engine, store, outcome.version, actor="nightly", note=decision.reason,
                expect_current=decision.production_version)
        except ProductionChangedError as exc:  # an operator promoted or rolled back meanwhile
            log.warning("%s", exc)
            report.reason = decision.reason = f"{exc} (gate: {decision.reason})"
            report.gate_passed, verdict = False, "kept production"
        else:
            report.promoted, verdict = True, "promoted"
    record_gate(engine, outcome.run_id, decision_record(decision, verdict, *margins))
