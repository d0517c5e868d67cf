"""A holder refuses a bundle of another database without waiting on the database for it: the
installation id is read in a thread, a load waits for it briefly, and the served model is
checked again once the id is known."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest

from recsys.recommend.holder import ModelHolder
from recsys.recommend.installation import InstallationCheck
from tests.recommend.test_holder import _copy_store


@pytest.fixture
def store(bundle_store, tmp_path):
    store = _copy_store(bundle_store, tmp_path)
    for version, owner in (("v1", "db-a"), ("v2", "db-b")):
        manifest = store.path(version) / "manifest.json"
        doc = json.loads(manifest.read_text())
        doc["installation_id"] = owner
        manifest.write_text(json.dumps(doc))
    store.set_current("v1")
    return store


def _source(answer: str, gate: threading.Event | None = None, calls: list | None = None):
    def read() -> str:
        if calls is not None:
            calls.append(1)
        if gate is not None:
            assert gate.wait(10)
        return answer
    return read


def _until(condition, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_foreign_bundle_is_refused_when_the_database_answers(store):
    holder = ModelHolder(store, poll_seconds=0, background=False,
                         installation_source=_source("db-b"))
    assert holder.get() is None
    assert "trained from another database" in holder.last_error
    assert "installation db-a; this database is db-b" in holder.last_error
    store.set_current("v2")
    assert holder.get() is not None and holder._version == "v2"  # its own: served


def test_a_slow_database_does_not_hold_the_load_and_the_model_is_dropped_later(store):
    gate = threading.Event()
    holder = ModelHolder(store, poll_seconds=0, background=False,
                         installation_source=_source("db-b", gate))
    started = time.monotonic()
    model = holder.get()
    waited = time.monotonic() - started
    assert model is not None and holder._version == "v1"  # unchecked for now
    assert holder.installation.known is None
    assert waited < 5  # not the source's 10 s
    gate.set()  # the database answers: another database's model is dropped
    assert _until(lambda: holder.model is None)
    assert "trained from another database" in holder.last_error


def test_a_served_model_of_this_database_stays_when_the_id_arrives(store):
    gate = threading.Event()
    holder = ModelHolder(store, poll_seconds=0, background=False,
                         installation_source=_source("db-a", gate))
    model = holder.get()
    gate.set()
    assert _until(lambda: holder.installation.known == "db-a")
    assert holder.model is model and holder.last_error is None


def test_a_failing_read_is_logged_once_and_tried_again(caplog):
    answers = [RuntimeError("database down"), RuntimeError("database down"), "db-a"]

    def read() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    check = InstallationCheck(read, wait_s=5)
    with caplog.at_level(logging.WARNING, "recsys"):
        assert check.read() is None
        assert check.read() is None
        assert check.read() == "db-a"
    warnings = [r for r in caplog.records if "installation id failed" in r.getMessage()]
    assert len(warnings) == 1 and "database down" in warnings[0].getMessage()
    assert check.read() == "db-a" and answers == []  # read once known: never again


def test_one_read_at_a_time_however_many_loads_wait():
    gate, calls = threading.Event(), []
    check = InstallationCheck(_source("db-a", gate, calls), wait_s=0.01)
    for _ in range(5):
        assert check.read() is None
    gate.set()
    assert _until(lambda: check.known == "db-a")
    assert len(calls) == 1


def test_bundles_naming_no_installation_are_served():
    check = InstallationCheck(_source("db-a"), wait_s=5)
    check.check({"version": "old"})  # does not raise
    assert check.problem({"installation_id": "db-a"}) is None
    assert "another database" in check.problem({"installation_id": "db-b"})
