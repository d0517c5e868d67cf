"""Overview, training runs, explore and song pages; HTML errors; escaping."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from recsys.db.models import ImportRun, Song, TrainingRun
from recsys.db.session import make_engine, session_scope
from tests.admin.conftest import COLD_ALONE, COLD_ARTIST, COLD_COOC, FIRST


def _add(app, *rows) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    with session_scope(engine) as session:
        session.add_all(rows)
    engine.dispose()


def test_overview_counts_imports_and_serving(admin, admin_app):
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    _add(admin_app, ImportRun(kind="csv", source="planted", path="/data/x.csv", started_at=start,
                              finished_at=start, songs_added=7, playlists_added=3,
                              items_added=21, duration_s=1.5))
    html = admin.get("/admin/").get_data(as_text=True)
    assert "2026-01-02 03:04:05" in html and "/data/x.csv" in html and "1.5 s" in html
    assert "<td>planted</td>" in html and "<td>other</td>" in html  # songs per source
    assert "tags (2 song tags)" in html
    assert html.count("<code>v1</code>") >= 1 and "in sync" in html  # loaded == current


def test_overview_lists_every_server_worker(admin, store):
    from recsys.recommend.beacon import Beacon, workers_dir

    html = admin.get("/admin/").get_data(as_text=True)
    assert "No server worker has reported" in html and 'id="workers"' not in html
    Beacon(workers_dir(store.root), "host-a-101").beat("v1", loaded_at=1_767_225_600.0)
    Beacon(workers_dir(store.root), "host-b-202").beat("v0", error="model v2 could not be loaded")
    stale = Beacon(workers_dir(store.root), "host-c-303")  # stopped answering checks
    stale.beat("v0")
    status = json.loads(stale.path.read_text())
    stale.path.write_text(json.dumps({**status, "seen_at": status["seen_at"] - 120}))
    html = admin.get("/admin/").get_data(as_text=True)
    assert "host-a-101" in html and "host-b-202" in html and "host-c-303" in html
    assert "1 of 2 on current" in html and html.count("not current") == 2
    assert html.count("not reporting") == 1
    assert "model v2 could not be loaded" in html and "2026-01-01 00:00:00 UTC" in html
    models = admin.get("/admin/models").get_data(as_text=True)
    assert re.search(r'id="workers-synced">1 of 2</a>', models)
    Beacon(workers_dir(store.root), "host-b-202").beat("v1")
    assert "2 of 2 on current" in admin.get("/admin/").get_data(as_text=True)


def _run(**values) -> TrainingRun:
    base = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    defaults = dict(status="succeeded", started_at=base, finished_at=base + timedelta(seconds=75),
                    settings={"vector_size": 32, "window": 5, "epochs": 3},
                    data_snapshot={"playlists": 300}, duration_s=75.0, words_per_sec=12345.6,
                    metrics={"next": {"hr@10": 0.25, "mrr@10": 0.125},
                             "similar": {"hr@10": 0.2, "tag_coherence": 0.5}},
                    model_version="v1")
    return TrainingRun(**{**defaults, **values})


def test_headline_metrics_never_show_gate_settings():
    from recsys.admin.metrics import key_metrics

    gate_only = {"gate": {"verdict": "promoted", "noise_z": 2.0, "tolerance": 0.0}}
    assert key_metrics(gate_only) == []  # a run without holdout metrics: nothing to show
    shown = key_metrics({**gate_only, "custom": {"score": 0.5}})
    assert [label for label, _, _ in shown] == ["custom score"]


def test_run_page_shows_the_gate_decision(admin, admin_app):
    gate = {"verdict": "kept production", "reason": "next-song HR@10 0.1051 vs 0.1061 (worse, ...)",
            "production_version": "v1", "tolerance": 0.0, "noise_z": 1.0,
            "metrics": {"next hr@10": {"candidate": 0.1051, "production": 0.1061,
                                       "diff": -0.001, "se": 0.0007, "n": 14136},
                        "similar tag_coherence": {"candidate": 0.2, "production": 0.2,
                                                  "diff": 0.0, "se": None, "n": 5}}}
    run = _run(metrics={"next": {"hr@10": 0.1051}, "gate": gate})
    _add(admin_app, run)
    run_id = run.id
    html = admin.get(f"/admin/runs/{run_id}").get_data(as_text=True)
    assert 'id="gate"' in html and "kept production" in html and "#v-v1" in html
    assert "-0.0010 ± 0.0007" in html and "-1.43" in html  # z of the difference
    assert "less than 1.0 standard errors below it" in html
    assert "gate verdict" not in html and "gate metrics" not in html  # not in the flat table
    listing = admin.get("/admin/runs").get_data(as_text=True)
    assert f"/admin/runs/{run_id}#gate" in listing and "gate: kept production" in listing
    overview = admin.get("/admin/").get_data(as_text=True)  # the newest run, on the overview
    last = overview[overview.index('id="last-run"'):]
    assert f"#{run_id}</a>" in last[:400] and "kept production" in last[:800]


def test_training_runs_table_and_detail(admin, admin_app):
    _add(admin_app, _run(), _run(status="failed", model_version=None, metrics={},
                                 error="RuntimeError: <boom>", duration_s=2.0))
    html = admin.get("/admin/runs").get_data(as_text=True)
    assert "2 in all" in html and "succeeded" in html and "failed" in html
    assert "1 min 15 s" in html and "12,346" in html and "dim 32 · window 5 · epochs 3" in html
    assert "next HR@10" in html and "0.2500" in html and "tag coherence" in html
    assert "RuntimeError: &lt;boom&gt;" in html and "<boom>" not in html
    detail = admin.get("/admin/runs/1").get_data(as_text=True)
    assert "Training run #1" in detail and "next song · MRR@10" in detail
    assert "<th>metric</th>" in detail and "reciprocal rank" in detail  # what each one means
    assert "higher is better" in html  # the headline chips' tooltips
    assert " UTC</dd>" in detail
    assert "&#34;vector_size&#34;: 32" in detail  # settings as JSON, escaped
    assert admin.get("/admin/runs/2").status_code == 200
    assert "counting baselines" not in detail  # a run recorded without baselines


def test_a_night_stopped_by_its_import_shows_as_the_last_run(admin, admin_app):
    error = ("nightly job stopped in the import of csv:/in/day2.csv, before training; "
             "production unchanged; imports committed before it: none. "
             "IngestError: /in/day2.csv:3: position must be an integer")
    _add(admin_app, _run(), _run(status="failed", model_version=None, metrics={}, error=error,
                                 words_per_sec=None, data_snapshot={
                                     "stage": "import", "failed_import": "csv:/in/day2.csv",
                                     "imports_done": "none"}))
    overview = admin.get("/admin/").get_data(as_text=True)
    last = overview[overview.index('id="last-run"'):][:1200]
    assert "#2</a>" in last and "failed" in last and "day2.csv:3" in last
    detail = admin.get("/admin/runs/2")
    assert detail.status_code == 200 and "day2.csv:3: position" in detail.get_data(as_text=True)


def test_imports_table_shows_what_each_import_changed(admin, admin_app):
    _add(admin_app, ImportRun(kind="csv", source="radio", path="/in/night.csv", songs_added=2,
                              changes={"songs_updated": 1, "playlists_replaced": 3,
                                       "items_replaced": 1200}),
         ImportRun(kind="csv", source="radio", path="/in/day.csv", songs_added=5),
         ImportRun(kind="csv", source="radio", path="/in/full.csv",
                   changes={"playlists_deleted": 1, "items_deleted": 40, "songs_retagged": 3,
                            "song_tags_removed": 5}))
    html = admin.get("/admin/").get_data(as_text=True)
    rows = html[html.index('id="imports"'):].split("</tr>")
    night = next(r for r in rows if "night.csv" in r)
    day = next(r for r in rows if "day.csv" in r)
    full = next(r for r in rows if "full.csv" in r)
    assert "1 song updated, 3 playlists replaced, 1,200 items rewritten" in night
    assert "3 songs&#39; tags replaced, 5 tag links removed, 1 playlist deleted, " \
        "40 items deleted" in full
    assert '"changed (rows already present)">–</td>' in day


def test_training_run_detail_compares_with_baselines(admin, admin_app):
    base = {"popularity": {"hr@10": 0.05, "mrr@10": 0.01},
            "transitions": {"hr@10": 0.15, "mrr@10": 0.0625},
            "cooccurrence": {"hr@10": 0.2, "mrr@10": 0.09375, "cont_hr@10": 0.3},
            "next_hr_over_best": 1.25}
    _add(admin_app, _run(metrics={"next": {"hr@10": 0.25, "mrr@10": 0.125},
                                  "baselines": base}))
    html = admin.get("/admin/runs/1").get_data(as_text=True)
    assert "this model and the counting baselines" in html and "1.250×" in html
    assert "next HR@10 ÷ best baseline" in html  # a headline chip, also on run lists
    assert "next MRR@10 ÷ best baseline" in html and "1.333×" in html
    runs = admin.get("/admin/runs").get_data(as_text=True)
    assert "next HR@10 ÷ best baseline" in runs and "1.250×" in runs
    assert "At least as good as every counting baseline on HR@10, MRR@10" in runs
    table = html[html.index("counting baselines"):html.index("Settings</h2>")]
    for name, value in (("this model (next)", "0.1250"), ("co-occurrence", "0.0938"),
                        ("transitions", "0.0625"), ("popularity", "0.0100")):
        assert name in table and value in table
    assert table.index("this model") < table.index("co-occurrence") < table.index("popularity")
    listed = html[html.index("<h2>Metrics</h2>"):html.index("counting baselines")]
    assert "baselines" not in listed  # not repeated in the flat metric list


def test_unknown_run_and_song_are_html_404(admin):
    for path in ("/admin/runs/999", "/admin/songs/777777"):
        resp = admin.get(path)
        assert resp.status_code == 404 and resp.mimetype == "text/html"
        assert "404" in resp.get_data(as_text=True)


def test_api_errors_stay_json(admin):
    resp = admin.get("/api/songs/777777")
    assert resp.status_code == 404 and resp.is_json


def test_explore_search_and_pagination(admin):
    html = admin.get("/admin/explore?q=song").get_data(as_text=True)
    assert "songs matching “song”" in html and "page 1 of" in html
    assert f'href="/admin/songs/{FIRST}"' in html
    page2 = admin.get("/admin/explore?q=song&page=2").get_data(as_text=True)
    assert "page 2 of" in page2 and "← previous" in page2
    one = admin.get("/admin/explore?q=BJÖRK").get_data(as_text=True)  # Unicode, case-folded
    assert "1 song matching" in one and f"/admin/songs/{COLD_ALONE}" in one
    assert "badge warn\">no<" in one  # not in the model
    assert admin.get("/admin/explore?page=abc").status_code == 200


def test_explore_ignores_nul_bytes_on_both_databases(build_app, db_url):
    from tests.admin.conftest import PASSWORD, USER, login

    app = build_app(url=db_url, ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD,
                    ADMIN_LOGIN_DELAY=0)
    client = app.test_client()
    assert login(client).status_code == 302
    resp = client.get("/admin/explore?q=BJ%00%C3%96RK")  # PostgreSQL text cannot hold NUL
    assert resp.status_code == 200
    assert f"/admin/songs/{COLD_ALONE}" in resp.get_data(as_text=True)


def test_song_page_shows_similar_and_next_with_explanations(admin):
    html = admin.get(f"/admin/songs/{FIRST}").get_data(as_text=True)
    assert "Song 1000" in html and "calm" in html and "rock" in html  # metadata and tags
    similar = html[html.index('id="list-similar"'):html.index('id="list-next"')]
    nxt = html[html.index('id="list-next"'):]
    assert similar.count("<li>") == 10 and nxt.count("<li>") == 10
    assert "/admin/songs/1001" in similar  # planted genre neighbour
    assert "training playlists with it" in similar and "followed it" in nxt
    assert similar.count(">cosine ") == 10 and nxt.count(">score ") == 10  # each score named
    assert nxt.index("/admin/songs/1001") < nxt.index("</li>")  # the planted successor first
    assert "fallback" not in html
    # each next item says what its score is made of, and the terms add up to it
    for item in nxt.split("<li>")[1:]:
        score = float(item.split(">score ")[1].split("<")[0])
        parts = item.split('class="parts">= ')[1].split("</span>")[0].split(" + ")
        assert {p.rsplit(" ", 1)[0] for p in parts} <= {
            "co-occurrence", "transitions", "embedding", "popularity"}
        assert sum(float(p.rsplit(" ", 1)[1]) for p in parts) == pytest.approx(score, abs=0.03)
    assert 'class="parts"' not in similar


def test_song_page_says_when_a_song_is_hidden(admin, admin_app):
    assert ">hidden</span>" not in admin.get(f"/admin/songs/{FIRST}").get_data(as_text=True)
    _add(admin_app, Song(id=4243, source="yes", external_id="9633", title="MG_DELETED",
                         artist="-", available=False))
    html = admin.get("/admin/songs/4243").get_data(as_text=True)
    assert '<span class="badge bad">hidden</span> never recommended' in html
    assert "songs unhide 4243" in html


@pytest.mark.parametrize(("song_id", "fallback"), [
    (COLD_COOC, "cooccurrence"), (COLD_ARTIST, "same artist"), (COLD_ALONE, "popularity")])
def test_song_page_names_the_fallback_for_unseen_songs(admin, song_id, fallback):
    html = admin.get(f"/admin/songs/{song_id}").get_data(as_text=True)
    assert "The model has not seen this song" in html
    assert f"fallback <strong>{fallback}</strong>" in html
    assert ">cosine " not in html  # fallback ranks carry no comparable score
    assert "not seen by v1" in html


def test_user_data_is_escaped(admin, admin_app):
    _add(admin_app, Song(id=4242, source="evil", external_id="<x>",
                         title="<script>alert(1)</script>", artist="Bob & <b>Co</b>"))
    for path in ("/admin/explore?q=script", "/admin/songs/4242"):
        html = admin.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    q = admin.get('/admin/explore?q="><img src=x>').get_data(as_text=True)
    assert "<img src=x>" not in q


@pytest.mark.parametrize("path", ["/admin/songs/99999999999999999999999",
                                  "/admin/runs/99999999999999999999999"])
def test_huge_ids_are_404_not_500(admin, path):
    assert admin.get(path).status_code == 404


def test_huge_page_numbers_are_not_500(admin):
    for path in ("/admin/explore?page=99999999999999999999", "/admin/runs?page=" + "9" * 30):
        assert admin.get(path).status_code == 200


def test_errors_use_the_dashboard_layout_and_headers(admin):
    for path, status in (("/admin/songs/777777", 404), ("/admin/nonexistent", 404),
                         ("/admin/logout", 405)):
        resp = admin.get(path)
        html = resp.get_data(as_text=True)
        assert resp.status_code == status and resp.mimetype == "text/html"
        assert "playlist2vec admin</title>" in html and 'class="topbar"' in html
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "Content-Security-Policy" in resp.headers


def test_pages_past_the_end_say_so(admin):
    html = admin.get("/admin/explore?page=500").get_data(as_text=True)
    assert "Page 500 is past the last page" in html
