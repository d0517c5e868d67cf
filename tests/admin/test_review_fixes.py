"""Dashboard behaviours found by an adversarial review: stale rollback targets, forms without
the version they were shown for, idle sessions in use, forms sent after a session ended, a
login replacing the one before, right-to-left text, and server paths on the models page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from recsys.admin import sessions
from recsys.index.registry import ProductionChangedError, rollback
from tests.admin.conftest import PASSWORD, USER, csrf_from, post_form, submit_form


def test_a_rollback_shown_for_another_target_switches_nothing(admin, admin_app, store):
    from recsys.extensions import db

    submit_form(admin, "/admin/models/v2/promote")  # the page now offers "v2 to v1"
    resp = submit_form(admin, "/admin/models/rollback", {"expected_target": "v0"})
    assert resp.status_code == 302 and store.current_version() == "v2"
    html = admin.get("/admin/models").get_data(as_text=True)
    assert "Rollback refused: a rollback now returns to v1, not v0" in html
    with admin_app.app_context(), pytest.raises(ProductionChangedError):
        rollback(db.engine, store, expected_target="v0")
    assert store.current_version() == "v2"
    submit_form(admin, "/admin/models/rollback")  # the page's own target: done
    assert store.current_version() == "v1"


def test_a_rollback_without_its_target_or_offered_none_switches_nothing(admin, store):
    submit_form(admin, "/admin/models/v2/promote")
    submit_form(admin, "/admin/models/v1/promote")  # a rollback now returns to v2
    resp = post_form(admin, "/admin/models/rollback", {"expected_current": "v1"})
    assert resp.status_code == 302 and store.current_version() == "v1"
    assert "the form did not say which version it rolls back to" in admin.get(
        "/admin/models").get_data(as_text=True)
    # a page rendered when no rollback was possible ("") cannot roll back to v2 now
    post_form(admin, "/admin/models/rollback", {"expected_current": "v1", "expected_target": ""})
    assert store.current_version() == "v1"
    assert "a rollback now returns to v2, not nowhere (none was offered)" in admin.get(
        "/admin/models").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/models/v2/promote", "/admin/models/rollback"])
def test_a_form_without_the_version_it_was_shown_for_is_refused(admin, store, path):
    post_form(admin, path)  # CSRF token only, as a hand-made request would send
    assert store.current_version() == "v1"
    assert "the form did not say which model it was shown for" in admin.get(
        "/admin/models").get_data(as_text=True)


def test_a_session_in_use_never_idles_out(admin, admin_app, monkeypatch):
    """At the shortest idle limit (1 minute) a login used every 40 s ended after 60 s."""
    admin_app.config["ADMIN_IDLE_MINUTES"] = 1
    real = sessions._now
    for seconds in (0, 40, 80, 120, 160):
        monkeypatch.setattr(sessions, "_now", lambda s=seconds: real() + timedelta(seconds=s))
        assert admin.get("/admin/").status_code == 200, seconds
    monkeypatch.setattr(sessions, "_now", lambda: real() + timedelta(seconds=230))
    assert admin.get("/admin/").status_code == 302  # 70 s without a request


def test_a_form_sent_after_the_session_ended_returns_to_its_page(admin, admin_app):
    from recsys.extensions import db

    token = csrf_from(admin, "/admin/models")
    with admin_app.app_context():
        db.session.query(sessions.AdminSession).delete()
        db.session.commit()
    resp = admin.post("/admin/models/rollback", data={"csrf_token": token},
                      headers={"Referer": "http://localhost/admin/models?x=1"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/admin/login?next=/admin/models?x%3D1")
    html = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Your session had ended, so nothing was done" in html  # not silently dropped
    resp = admin.post("/admin/models/v2/promote", data={"csrf_token": token})  # no referrer
    assert resp.headers["Location"].endswith("/admin/login?next=/admin/")
    resp = admin.post("/admin/logout", data={"csrf_token": token})  # what was asked for
    assert resp.headers["Location"].endswith("/admin/login")
    assert "Logged out." in admin.get("/admin/login").get_data(as_text=True)


def test_logging_in_again_ends_the_session_it_replaces(admin, admin_app):
    old = admin.get_cookie("session").value
    resp = admin.post("/admin/login", data={"username": USER, "password": PASSWORD,
                                            "csrf_token": csrf_from(admin, "/admin/")})
    assert resp.status_code == 302
    copy = admin_app.test_client()
    copy.set_cookie("session", old)
    resp = copy.get("/admin/")
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    assert admin.get("/admin/").status_code == 200  # the new login works


def test_catalog_text_is_isolated_from_the_text_around_it(admin, admin_app):
    from recsys.db.models import Song
    from tests.admin.conftest import add_rows

    add_rows(admin_app, Song(id=4250, source="x", external_id="rtl",
                             title="\u202eevil", artist="\u202eartist"))
    html = admin.get("/admin/songs/4250").get_data(as_text=True)
    assert "<h1><bdi>\u202eevil</bdi>" in html and "<bdi>\u202eartist</bdi>" in html
    listing = admin.get("/admin/explore?q=evil").get_data(as_text=True)
    assert "<bdi>\u202eevil</bdi>" in listing and "<bdi>\u202eartist</bdi>" in listing


def test_a_broken_bundle_row_names_no_server_path(admin, store):
    (store.path("v2") / "manifest.json").write_text("{")
    html = admin.get("/admin/models").get_data(as_text=True)
    assert "the model store" in html and str(store.root) not in html


def test_a_model_that_cannot_load_names_no_server_path_anywhere(admin, admin_app, store):
    """The load error reaches /api/ready (public), the overview and the song pages."""
    from recsys.api import deps

    (store.path("v2") / "manifest.json").write_text("{")
    store.set_current("v2")
    with admin_app.app_context():
        holder = deps.holder()
        holder.refresh(wait=True)
        assert "the model store" in holder.last_error
    ready = admin.get("/api/ready")
    assert ready.status_code in (200, 503)
    for text in (ready.get_data(as_text=True), admin.get("/admin/").get_data(as_text=True)):
        assert str(store.root) not in text and str(store.root.resolve()) not in text
