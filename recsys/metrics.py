"""Prometheus metrics at ``GET /metrics``: requests, latency, served model version and size.

Under gunicorn every worker is its own process. ``python -m recsys serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` (under ``var/``) before any worker imports ``prometheus_client``,
so each worker writes its samples to memory-mapped files there and a scrape of any worker
aggregates all of them (counters and histograms are summed; the model gauges report, per
label, the maximum over live workers; ``recsys_model_info`` lists only the versions a live
worker serves). Without that variable (dev server, tests) the
metrics are per process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request

METRICS_KEY = "recsys.metrics"
# the method label takes these values only: a client can send any token as a method
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def multiprocess_dir() -> str | None:
    """The shared metrics directory, when running under multi-process gunicorn."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The metric objects of one app (own registry, so several apps can coexist in tests)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "recsys_http_requests", "HTTP requests by endpoint, method and status.",
            ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "recsys_http_request_duration_seconds", "Request latency by endpoint.",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.model_info = Gauge(
            "recsys_model_info", "1 for the model version being served (label: version).",
            ["version"], multiprocess_mode="livemax", registry=self.registry)
        self.model_songs = Gauge(
            "recsys_model_songs", "Songs in the served model's index.",
            multiprocess_mode="livemax", registry=self.registry)
        self.answers = Counter(
            "recsys_recommendation_answers", "Recommendation answers (200) by mode and by what "
            "answered: the model, or a fallback step for a song the model has not seen (its "
            "share is the cold-start rate), or nothing (no item left).",
            ["mode", "answered_by"], registry=self.registry)
        self._answer_children: dict[tuple[str, str], Any] = {}
        self.db_client_timeouts = Counter(
            "recsys_db_client_timeouts", "Database calls of web requests cut off by the client "
            "deadline (RECSYS_DB_CLIENT_TIMEOUT_SECONDS).", registry=self.registry)
        self._version: str | None = None
        self._model_lock = threading.Lock()  # request threads and the holder's swap
        self._children: dict[tuple[str, str, str], tuple] = {}

    def record(self, endpoint: str, method: str, status: str, seconds: float | None) -> None:
        """Count one request and (when timed) observe its latency.

        The labelled children are looked up once per label combination: ``labels()``
        validates and locks on every call, which is a visible share of a fast request.
        """
        key = (endpoint, method, status)
        children = self._children.get(key)
        if children is None:
            children = (self.latency.labels(endpoint=endpoint),
                        self.requests.labels(endpoint=endpoint, method=method, status=status))
            self._children[key] = children
        if seconds is not None:
            children[0].observe(seconds)
        children[1].inc()

    def count_answer(self, mode: str, answered_by: str) -> None:
        """Count one recommendation answer (a labelled child looked up once per pair)."""
        key = (mode, answered_by)
        child = self._answer_children.get(key)
        if child is None:
            child = self._answer_children[key] = self.answers.labels(
                mode=mode, answered_by=answered_by)
        child.inc()

    def observe_model(self, model) -> None:
        """Update the model gauges when this process serves a different version (the model
        holder's swap calls it with the new model)."""
        self.observe_served(lambda: model)

    def observe_served(self, read: Callable[[], Any]) -> None:
        """:meth:`observe_model` of ``read()``, the model served now, read under the lock that
        makes request threads and the holder's swap take turns: a request thread reading the
        holder's model before taking it could report the old model after the swap reported
        the new one, and nothing would correct it until its next request."""
        with self._model_lock:
            model = read()
            version = None if model is None else model.version
            if version == self._version:
                return
            if self._version is not None:
                self._retire_version(self._version)
            if model is not None:
                self.model_info.labels(version=version).set(1)
                self.model_songs.set(len(model))
            self._version = version

    def _retire_version(self, version: str) -> None:
        """Drop the series of a version this process no longer serves.

        In one process the label set is removed. In multi-process mode a worker's samples live
        in its memory-mapped file, from which nothing can be removed (``Gauge.remove`` only
        warns there): the series is set to 0 and :meth:`exposition` leaves out versions at 0
        in every live worker.
        """
        if multiprocess_dir():
            self.model_info.labels(version=version).set(0)
        else:
            self.model_info.remove(version)

    def exposition(self) -> tuple[bytes, str]:
        """Text exposition of every metric (aggregated over workers in multi-process mode)."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry = self.registry
        if multiprocess_dir():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            registry.register(_ServedVersionsOnly(multiprocess.MultiProcessCollector(None)))
        return generate_latest(registry), CONTENT_TYPE_LATEST


class _ServedVersionsOnly:
    """Wraps the multi-process collector: ``recsys_model_info`` keeps only the versions some
    live worker serves (its ``livemax`` over the workers is 1; a retired one stays 0)."""

    def __init__(self, collector) -> None:
        self._collector = collector

    def collect(self):
        for metric in self._collector.collect():
            if metric.name == "recsys_model_info":
                metric.samples = [s for s in metric.samples if s.value != 0]
            yield metric


#: What may answer a recommendation request (the ``answered_by`` label's values).
ANSWERED_BY = frozenset({"model", "cooccurrence", "same_artist", "popularity", "nothing"})


def count_answer(app: Flask, mode: str, fallback: str | None, n_items: int) -> None:
    """Count a 200 answer of ``/similar`` or ``/recommendations``: ``fallback`` None means the
    model answered; no item at all counts as ``nothing``."""
    metrics = app.extensions.get(METRICS_KEY)
    if metrics is None:
        return
    by = "nothing" if not n_items else (fallback or "model")
    metrics.count_answer(mode, by if by in ANSWERED_BY else "other")


def count_db_client_timeout(app: Flask) -> None:
    """Count one database call cut off by the client deadline (from the watchdog thread)."""
    metrics = app.extensions.get(METRICS_KEY)
    if metrics is not None:
        metrics.db_client_timeouts.inc()


def init_app(app: Flask) -> None:
    """Count and time every request; serve ``GET /metrics``."""
    metrics = Metrics()
    app.extensions[METRICS_KEY] = metrics

    @app.before_request
    def _start_timer() -> None:
        g.recsys_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        started = g.pop("recsys_started", None)
        method = request.method if request.method in HTTP_METHODS else "other"
        metrics.record(endpoint, method, str(response.status_code),
                       None if started is None else time.perf_counter() - started)
        holder = app.extensions.get("recsys.model")
        if holder is not None:
            metrics.observe_served(lambda: holder.model)
        return response

    def metrics_view() -> Response:
        holder = app.extensions.get("recsys.model")
        if holder is not None:
            metrics.observe_served(lambda: holder.model)
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
