"""The models page: versions, metrics, index parameters, promote and roll back."""

from __future__ import annotations

from sqlalchemy import select

from recsys.db.models import ModelEvent
from recsys.db.session import make_engine, session_scope
from tests.admin.conftest import login, post_form, submit_form


def _events(app) -> list[tuple[str, str, str | None, str | None]]:
    engine = make_engine(app.config["DATABASE_URL"])
    with session_scope(engine) as session:
        rows = [(e.action, e.version, e.previous_version, e.actor)
                for e in session.scalars(select(ModelEvent).order_by(ModelEvent.id))]
    engine.dispose()
    return rows


def test_models_page_lists_versions_metrics_and_indexes(admin):
    html = admin.get("/admin/models").get_data(as_text=True)
    assert 'data-version="v1"' in html and 'data-version="v2"' in html
    assert html.index('data-version="v2"') < html.index('data-version="v1"')  # newest first
    v1 = html[html.index('data-version="v1"'):]
    assert "current-marker" in v1[:400]
    assert "hr@10" in html and "0.6000" in html and "0.5000" in html
    assert "annoy" in html and "recall@10" in html and "trees" in html  # v2's tuned Annoy
    assert "No promotions yet" in html


def test_promote_and_rollback_through_the_dashboard(admin, admin_app, store):
    resp = submit_form(admin, "/admin/models/v2/promote")
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/models"
    assert store.current_version() == "v2"
    html = admin.get("/admin/models").get_data(as_text=True)
    assert "Promoted v2 (was v1)" in html
    assert "current-marker" in html[html.index('data-version="v2"'):][:400]
    assert submit_form(admin, "/admin/models/v1/promote").status_code == 302
    assert store.current_version() == "v1"

    resp = submit_form(admin, "/admin/models/rollback")
    assert resp.status_code == 302 and store.current_version() == "v2"
    html = admin.get("/admin/models").get_data(as_text=True)
    assert "Rolled back from v1 to v2" in html
    assert _events(admin_app) == [("promote", "v2", "v1", "admin"),
                                  ("promote", "v1", "v2", "admin"),
                                  ("rollback", "v2", "v1", "admin")]
    assert html.count('class="badge warn">rollback<') == 1  # in the history table


def test_corrupt_bundle_is_refused_with_a_message(admin, store):
    (store.path("v2") / "out_vectors.npy").write_bytes(b"corrupt")
    resp = submit_form(admin, "/admin/models/v2/promote")
    assert resp.status_code == 302
    page = admin.get("/admin/models")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Promotion of v2 refused" in html and "checksum mismatch" in html
    assert store.current_version() == "v1"
    assert str(store.root) not in html  # the server's directories stay in its log


def test_unknown_version_names_no_server_path(admin, store):
    submit_form(admin, "/admin/models/nonexistent/promote")
    html = admin.get("/admin/models").get_data(as_text=True)
    assert "unknown model version &#39;nonexistent&#39; in the model store" in html
    assert str(store.root) not in html


def test_unknown_or_invalid_version_is_a_message(admin, store):
    for version in ("v9", "bad..name"):
        resp = submit_form(admin, f"/admin/models/{version}/promote")
        assert resp.status_code == 302
        assert "refused" in admin.get("/admin/models").get_data(as_text=True)
    assert store.current_version() == "v1"


def test_nothing_to_roll_back_is_a_message(admin, store):
    submit_form(admin, "/admin/models/rollback")
    html = admin.get("/admin/models").get_data(as_text=True)
    assert "Rollback refused: nothing to roll back" in html
    assert store.current_version() == "v1"


def test_pages_render_without_any_model(build_app):
    app = build_app(current=None, ADMIN_PASSWORD="pw", ADMIN_LOGIN_DELAY=0)
    client = app.test_client()
    login(client, password="pw")
    for path in ("/admin/", "/admin/models", "/admin/runs", "/admin/explore?q=song",
                 "/admin/songs/1000", "/admin/map"):
        resp = client.get(path)
        assert resp.status_code == 200, path
    assert "none promoted yet" in client.get("/admin/").get_data(as_text=True)
    assert "No model is loaded" in client.get("/admin/songs/1000").get_data(as_text=True)
    resp = client.get("/admin/map.json")
    assert resp.status_code == 503 and "no model is loaded" in resp.get_json()["error"]["message"]


def test_empty_store_shows_how_to_train(tmp_path, make_app, sqlite_url):
    app = make_app(sqlite_url, ADMIN_PASSWORD="pw", ADMIN_LOGIN_DELAY=0)
    client = app.test_client()
    login(client, password="pw")
    html = client.get("/admin/models").get_data(as_text=True)
    assert "No model bundles yet" in html
    assert "The database is empty" in client.get("/admin/").get_data(as_text=True)


def test_stale_page_or_second_submit_switches_nothing(admin, admin_app, store):
    def submit(path, seen_current, seen_target=None):
        data = {"expected_current": seen_current}
        if seen_target is not None:
            data["expected_target"] = seen_target
        assert post_form(admin, path, data).status_code == 302

    submit("/admin/models/v2/promote", "v1")
    # a second tab still shows v1 as current: its Promote v1 must not apply to v2
    submit("/admin/models/v1/promote", "v1")
    assert store.current_version() == "v2"
    assert "current model changed since the page was loaded" in admin.get(
        "/admin/models").get_data(as_text=True)
    submit("/admin/models/v1/promote", "v2")
    # the same rollback form (rendered with v1 current) sent twice rolls back once
    submit("/admin/models/rollback", "v1", "v2")
    submit("/admin/models/rollback", "v1", "v2")
    assert store.current_version() == "v2"
    assert [e[0] for e in _events(admin_app)] == ["promote", "promote", "rollback"]


def test_promoting_the_current_model_records_nothing(admin, admin_app, store):
    submit_form(admin, "/admin/models/v1/promote")
    assert "v1 is already the current model" in admin.get("/admin/models").get_data(as_text=True)
    assert store.current_version() == "v1" and _events(admin_app) == []


def test_rollback_button_names_its_target(admin):
    html = admin.get("/admin/models").get_data(as_text=True)
    assert 'id="rollback" disabled' in html  # nothing promoted yet
    submit_form(admin, "/admin/models/v2/promote")
    html = admin.get("/admin/models").get_data(as_text=True)
    assert 'data-confirm="Roll back from v2 to v1?"' in html
    assert 'id="rollback" disabled' not in html
