"""``recsys_model_info`` lists only the served version, alone and over gunicorn workers."""

from __future__ import annotations

import warnings

import pytest
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from recsys.metrics import Metrics


class _Model:
    def __init__(self, version: str) -> None:
        self.version = version

    def __len__(self) -> int:
        return 10


def _versions(metrics: Metrics) -> dict[str, float]:
    text = metrics.exposition()[0].decode()
    return {s.labels["version"]: s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == "recsys_model_info"}


def test_one_process_keeps_only_the_served_version(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    metrics = Metrics()
    for n in range(200):
        metrics.observe_model(_Model(f"v{n}"))
    assert _versions(metrics) == {"v199": 1.0}
    metrics.observe_model(None)
    assert _versions(metrics) == {}


@pytest.fixture
def worker(tmp_path, monkeypatch):
    """Switch to a simulated gunicorn worker (by pid) sharing one multi-process directory:
    its samples go to its own memory-mapped files, as in a forked worker."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    current = {"pid": 0}
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: current["pid"]))

    def switch(pid: int) -> None:
        current["pid"] = pid

    return switch


def test_workers_export_only_versions_some_worker_serves(worker):
    worker(101)
    first = Metrics()
    first.observe_model(_Model("v1"))
    worker(102)
    second = Metrics()
    second.observe_model(_Model("v1"))
    worker(101)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Gauge.remove only warns in multi-process mode
        first.observe_model(_Model("v2"))
    # while the promotion spreads both versions are served
    assert _versions(first) == {"v1": 1.0, "v2": 1.0}
    worker(102)
    second.observe_model(_Model("v2"))
    assert _versions(second) == {"v2": 1.0}
    for n in range(3, 200):
        worker(101)
        first.observe_model(_Model(f"v{n}"))
        worker(102)
        second.observe_model(_Model(f"v{n}"))
    assert _versions(second) == {"v199": 1.0}



def test_concurrent_observers_leave_one_served_version(monkeypatch):
    """A request thread observes the model it read (v2) while the holder's swap observes the
    next one (v3): one at a time, the last retires the other, so only v3 stays exported
    (interleaved, both stayed at 1 and the served version was recorded as v2)."""
    import threading
    import time

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    metrics = Metrics()
    metrics.observe_model(_Model("v1"))
    retire = metrics._retire_version

    def slow_retire(version: str) -> None:
        time.sleep(0.1)  # widen the window between the check and the update
        retire(version)

    monkeypatch.setattr(metrics, "_retire_version", slow_retire)
    request = threading.Thread(target=metrics.observe_model, args=(_Model("v2"),))
    swap = threading.Thread(target=metrics.observe_model, args=(_Model("v3"),))
    request.start()
    time.sleep(0.03)
    swap.start()
    request.join()
    swap.join()
    assert _versions(metrics) == {"v3": 1.0}
