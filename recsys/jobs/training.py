"""Train from the database, evaluate on the stable holdout, write a bundle, record the run."""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from recsys.db.base import utcnow
from recsys.db.models import TrainingRun
from recsys.db.session import read_snapshot, session_scope
from recsys.index.build import build_bundle
from recsys.index.registry import bind_store, register
from recsys.index.store import ModelStore
from recsys.ingest.model import printable
from recsys.jobs import data
from recsys.jobs.evaluation import baseline_metrics, recommender_metrics
from recsys.ml.corpus import CorpusFile, PlaylistCorpus, export_corpus
from recsys.ml.scoring import next_recommender, similar_recommender
from recsys.ml.settings import TrainSettings
from recsys.ml.train import TrainedModel, train

log = logging.getLogger("recsys.jobs")


@dataclass
class TrainOutcome:
    """What a training run produced."""

    run_id: int
    version: str
    metrics: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _sampled(scored_frac: float, holdout_frac: float) -> str:
    """How much of the holdout the evaluation scores, when not all of it."""
    if scored_frac >= holdout_frac:
        return ""
    return (f" (the stable {scored_frac:g} of the {holdout_frac:g} holdout: at most "
            f"{data.EVAL_MAX_TRANSITIONS:,} transitions)")


#: Below this many free bytes where bundles are written, a failed write is put down to space.
LOW_SPACE_BYTES = 256 * 2**20


#: errno values of a full disk or quota (numpy's short write has none: None).
_FULL = (errno.ENOSPC, errno.EDQUOT, None)


def describe_failure(exc: BaseException, where: Path) -> str:
    """The run's error text (:func:`printable`: a database row and a log line can hold it); a
    write that failed on a (nearly) full disk says so, since numpy's own message for it reads
    like "206418 requested and 149472 written". Other OSErrors (a read-only file system, a
    permission) are not put down to space, however little is free."""
    text = printable("".join(traceback.format_exception_only(exc)).strip())
    if isinstance(exc, OSError) and exc.errno in _FULL:
        try:
            free = shutil.disk_usage(where).free
        except OSError:
            return text
        if exc.errno is not None or free < LOW_SPACE_BYTES:
            size = f"{free / 2**20:.0f} MiB" if free >= 2**20 else f"{free // 1024} KiB"
            text += printable(f" (disk full? {size} free under {where})")
    return text


def _finish(engine: Engine, run_id: int, **values: Any) -> None:
    with session_scope(engine) as session:
        run = session.get(TrainingRun, run_id)
        for key, value in values.items():
            setattr(run, key, value)
        run.finished_at = utcnow()


def record_gate(engine: Engine, run_id: int, gate: dict[str, Any]) -> None:
    """Store the promotion gate's decision on a run, as ``metrics["gate"]`` (JSON)."""
    with session_scope(engine) as session:
        run = session.get(TrainingRun, run_id)
        run.metrics = {**(run.metrics or {}), "gate": gate}  # a new dict: the JSON column sees it


def record_failed_job(engine: Engine, settings: TrainSettings, error: str,
                      duration_s: float, snapshot: dict[str, Any]) -> int:
    """A failed run for a job that stopped before training (a bad import file): operators see
    it in ``training_runs`` and on the dashboard instead of the previous night's success."""
    finished = utcnow()
    with session_scope(engine) as session:
        run = TrainingRun(status="failed", settings=settings.to_dict(), data_snapshot=snapshot,
                          duration_s=round(duration_s, 2), error=error, finished_at=finished,
                          started_at=finished - timedelta(seconds=duration_s))
        session.add(run)
        session.flush()
        return run.id


def fail_interrupted_runs(engine: Engine) -> int:
    """Mark runs a killed process left ``running`` as failed (call under the job lock)."""
    from sqlalchemy import select

    with session_scope(engine) as session:
        runs = session.scalars(select(TrainingRun).where(TrainingRun.status == "running")).all()
        found = f"{utcnow():%Y-%m-%d %H:%M:%S} UTC"
        for run in runs:  # when it died is unknown: no finish time, the finding time in words
            run.status, run.finished_at = "failed", None
            run.error = ("interrupted: the process stopped before the run finished "
                         f"(found by the next job at {found})")
    if runs:
        log.warning("marked %d interrupted training run(s) as failed", len(runs))
    return len(runs)


@dataclass
class _Inputs:
    """Everything a run reads from the database, from one snapshot."""

    snapshot: dict[str, Any]
    corpus: CorpusFile
    train_playlists: list[list[int]]
    holdout: list[list[int]]
    scored_frac: float
    tags: dict[int, frozenset[int]]
    songs: dict[int, dict[str, Any]]


def _read_inputs(conn: Connection, corpus_path: Path, snap: dict[str, Any], *,
                 holdout_frac: float, source: str | None) -> _Inputs:
    """Read a run's data on the snapshot connection ``conn``: the train playlists, streamed
    once into the corpus file and kept for the count tables, the holdout, tags and metadata."""
    opts = {"source": source, "holdout_frac": holdout_frac}
    train_playlists: list[list[int]] = []

    def batches() -> Iterator[list[list[int]]]:
        for batch in data.iter_batches(conn, part="train", **opts):
            train_playlists.extend(batch)
            yield batch

    corpus = export_corpus(PlaylistCorpus(batches), corpus_path)
    holdout, scored_frac = data.load_holdout(conn, **opts) if holdout_frac else ([], 0.0)
    tags = data.load_tags(conn) if holdout else {}
    # the model's songs are among these (it is trained on them): known before training
    songs = data.song_metadata(conn, {s for playlist in train_playlists for s in playlist})
    snap = snap | {"train_playlists": len(train_playlists)}
    return _Inputs(snap, corpus, train_playlists, holdout, scored_frac, tags, songs)


def train_and_bundle(
    engine: Engine,
    store: ModelStore,
    settings: TrainSettings,
    *,
    holdout_frac: float = 0.1,
    source: str | None = None,
    backend: str = "annoy",
    progress: Callable[[int, int, float], None] | None = None,
) -> TrainOutcome:
    """Train on every playlist outside the stable holdout and write an unpromoted bundle.

    Everything the run reads (the recorded counts, the corpus, the count tables' playlists,
    the holdout, tags and metadata) comes from one database snapshot
    (:func:`~recsys.db.session.read_snapshot`), closed before gensim trains: an import
    committed meanwhile is in the next run, never in half of this one.

    The run is recorded in ``training_runs`` (status ``running`` → ``succeeded``/``failed``);
    a failure leaves no bundle behind and the production model untouched. A model store of
    another database is refused before anything is read or written
    (:func:`~recsys.index.registry.bind_store`).
    """
    bind_store(engine, store)
    with contextlib.ExitStack() as reading:
        conn = reading.enter_context(read_snapshot(engine))
        snap = data.snapshot(conn).as_dict() | {"holdout_frac": holdout_frac, "source": source}
        with session_scope(engine) as session:
            run = TrainingRun(status="running", settings=settings.to_dict(), data_snapshot=snap)
            session.add(run)
            session.flush()
            run_id = run.id
        started = time.perf_counter()
        try:
            store.versions_dir.mkdir(parents=True, exist_ok=True)
            # the corpus file beside the bundles: a killed run's is removed with its bundle
            with tempfile.TemporaryDirectory(prefix=".tmp-corpus-",
                                             dir=store.versions_dir) as tmp:
                inputs = _read_inputs(conn, Path(tmp) / "corpus.txt", snap,
                                      holdout_frac=holdout_frac, source=source)
                reading.close()  # the snapshot ends here: none is held while gensim trains
                model = train(inputs.corpus, settings, progress)
            version, metrics = _evaluate_and_build(engine, store, model, inputs, run_id,
                                                   holdout_frac, backend)
        except BaseException as exc:
            _finish(engine, run_id, status="failed", duration_s=time.perf_counter() - started,
                    error=describe_failure(exc, store.root))
            raise
    _finish(engine, run_id, status="succeeded", duration_s=time.perf_counter() - started,
            words_per_sec=model.stats.get("words_per_s"), metrics=metrics,
            model_version=version, data_snapshot=inputs.snapshot)
    log.info("training run %d wrote model %s", run_id, version)
    return TrainOutcome(run_id, version, metrics, model.stats)


def _evaluate_and_build(engine: Engine, store: ModelStore, model: TrainedModel,
                        inputs: _Inputs, run_id: int, holdout_frac: float,
                        backend: str) -> tuple[str, dict[str, Any]]:
    """Score the model on the holdout beside the counting baselines, write its bundle and
    register it; the version and the metrics."""
    metrics: dict[str, Any] = {}
    holdout, train_playlists, tags = inputs.holdout, inputs.train_playlists, inputs.tags
    if holdout_frac and not holdout:
        log.warning("no held-out playlists (holdout %g of too few playlists): no metrics",
                    holdout_frac)
    if holdout:
        t0 = time.perf_counter()
        tag_seeds = data.tag_seeds(model.song_ids.tolist(), tags)
        log.info("evaluating on %d held-out playlists%s and %d tagged songs", len(holdout),
                 _sampled(inputs.scored_frac, holdout_frac), len(tag_seeds))
        metrics = recommender_metrics(similar_recommender(model),
                                      next_recommender(model, train_playlists),
                                      holdout, tags, tag_seeds=tag_seeds)
        if inputs.scored_frac < holdout_frac:
            metrics["holdout_frac_scored"] = inputs.scored_frac
        log.info("holdout: next HR@10 %.4f (%.1fs); scoring the counting baselines",
                 metrics["next"]["hr@10"], time.perf_counter() - t0)
        metrics["baselines"] = baseline_metrics(train_playlists, holdout,
                                                metrics["next"]["hr@10"])
        log.info("holdout: next HR@10 / best counting baseline %s (%.1fs in all)",
                 _fmt(metrics["baselines"].get("next_hr_over_best")),
                 time.perf_counter() - t0)
    version = build_bundle(store, model, train_playlists, inputs.songs, metrics=metrics,
                           data_snapshot=inputs.snapshot, training_run_id=run_id,
                           backend=backend)
    register(engine, store, version)
    return version, metrics
