"""The holder tells the metrics about each swap: a worker that swaps in the background reports
the new version without waiting for a request."""

from __future__ import annotations

from tests.app.test_metrics_versions import _versions


def test_a_background_swap_updates_the_served_version_without_a_request(build_app):
    """A worker that swaps models from its watch thread and then gets no request reported the
    old version until its next request; the holder now tells the metrics on each swap."""
    from recsys.api.deps import holder
    from recsys.metrics import METRICS_KEY

    app = build_app(current="v1")
    metrics, models = app.extensions[METRICS_KEY], holder(app)
    assert models.get().version == "v1"
    assert _versions(metrics) == {"v1": 1.0}
    models.store.set_current("v2")
    models.refresh()  # what the watch thread does; no request in between
    assert models.model.version == "v2"
    assert _versions(metrics) == {"v2": 1.0}


def test_a_failing_swap_listener_does_not_stop_the_swap(build_app, caplog):
    from recsys.api.deps import holder

    app = build_app(current="v1")
    models = holder(app)
    models.get()
    seen = []
    models.swap_listeners[:0] = [lambda model: 1 / 0, seen.append]
    models.store.set_current("v2")
    models.refresh()
    assert models.model.version == "v2" and [m.version for m in seen] == ["v2"]
    assert "a swap listener failed after model v2 was swapped in" in caplog.text


def test_a_request_that_read_the_old_model_does_not_report_it_after_the_swap(build_app,
                                                                            monkeypatch):
    """A request thread reads the served model for the metrics (v1); the watch thread swaps
    in v2 and reports it; the request thread then reported v1, left exported until its next
    request. The model is now read under the metrics' lock, so the swap's report comes last."""
    import threading

    from recsys.api.deps import holder
    from recsys.metrics import METRICS_KEY
    from recsys.recommend.holder import ModelHolder

    app = build_app(current="v1")
    metrics, models = app.extensions[METRICS_KEY], holder(app)
    models.get()
    models.store.set_current("v2")
    swap = threading.Thread(target=models.refresh)
    real = ModelHolder.model.fget

    def read_then_swap(self):
        old = real(self)
        if threading.current_thread() is threading.main_thread() and not swap.is_alive() \
                and swap.ident is None:
            swap.start()  # the watch thread swaps right after this request's read
            swap.join(1.0)  # (waits for the metrics' lock, if the read holds it)
        return old

    monkeypatch.setattr(ModelHolder, "model", property(read_then_swap))
    assert app.test_client().get("/no-such-page").status_code == 404
    swap.join(10)
    monkeypatch.undo()
    assert models.model.version == "v2"
    assert _versions(metrics) == {"v2": 1.0}
