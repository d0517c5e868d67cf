"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never downloaded).

Skipped when ``/usr/bin/chromium`` (``make system-deps``) or Playwright is missing, unless
``CI=true``: then it fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.admin.conftest import PASSWORD, USER
from tests.conftest import require_or_skip

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture
def live_url(admin_app) -> Iterator[str]:
    """The app served on a free loopback port by werkzeug in a thread."""
    server = make_server("127.0.0.1", 0, admin_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="live-admin")
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page():
    """A Chromium page (the system browser, headless)."""
    if not CHROMIUM.exists():
        require_or_skip(f"{CHROMIUM} not found (run `make system-deps`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip("playwright is not installed (requirements-dev.txt)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def _poll(page, expression: str, timeout: float = 15.0):
    """Evaluate ``expression`` until truthy (``wait_for_function`` would need unsafe-eval,
    which the dashboard's Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _log_in(page, url: str) -> None:
    """Fill and send the login form at ``url`` (a page that redirected there, or the form),
    then wait for the page it leads to."""
    page.goto(url)
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")


def test_login_promote_and_map_in_chromium(page, live_url, store):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_url}/admin/models")
    assert "/admin/login" in page.url
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(f"{live_url}/admin/models")
    assert page.inner_text("#current-version") == "v1"

    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    with page.expect_navigation():
        page.click('tr[data-version="v2"] button.promote')
    assert dialogs == ["Promote v2 to production?\n"  # the fixtures record only a flat hr@10
                       "next HR@10: not recorded (current v1: not recorded)\n"
                       "similar tag coherence: not recorded (current v1: not recorded)"]
    assert page.inner_text("#current-version") == "v2"
    assert "Promoted v2 (was v1)" in page.inner_text(".flash-success")
    assert page.locator('tr[data-version="v2"] .current-marker').count() == 1
    assert store.current_version() == "v2"

    page.goto(f"{live_url}/admin/map")
    assert _poll(page, "window.recsysMap && window.recsysMap.drawn > 0")
    assert page.evaluate("window.recsysMap.points.length") > 0
    assert page.evaluate("window.recsysMap.points.length") == page.evaluate(
        "window.recsysMap.data.n_points")
    assert page.locator("#map-legend span").count() > 0
    legend = page.inner_text("#map-legend")
    # hovering a point highlights it and shows its song; the legend stays as it is
    point = page.evaluate("(() => { const p = window.recsysMap.points[0], c = "
                          "document.getElementById('map'), r = c.getBoundingClientRect(); "
                          "return [r.left + p.x * r.width / c.width, "
                          "r.top + p.y * r.height / c.height]; })()")
    page.mouse.move(*point)
    assert _poll(page, "window.recsysMap.hover >= 0")
    assert page.is_visible("#map-tip") and page.inner_text("#map-legend") == legend
    assert "id " in page.inner_text("#map-tip")  # songs of the same title told apart
    page.evaluate("window.legendBefore = document.getElementById('map-legend').innerText")
    page.select_option("#map-colour", "artist")  # another colouring: another legend
    assert _poll(page, "document.getElementById('map-legend').innerText !== "
                       "window.legendBefore")
    assert page.inner_text("#map-legend") != legend
    assert errors == []


def test_pages_fit_a_phone_screen(page, live_url, store, admin_app):
    from recsys.db.models import ImportRun
    from recsys.recommend.beacon import Beacon, workers_dir
    from tests.admin.conftest import add_rows
    from tests.admin.test_walkthrough import _run

    add_rows(admin_app, _run())  # a training run with every metric and the baselines
    add_rows(admin_app, ImportRun(  # an import with a long path (it wraps on a phone)
        kind="csv", source="radio", songs_added=1234, playlists_added=56, duration_s=3.5,
        items_added=7890, path="/data/incoming/2026/11/27/radio-station-exports/playlists.csv"))

    # the overview's worker table with long names and a load error
    Beacon(workers_dir(store.root), "a-rather-long-host-name.example.internal-123456").beat(
        "v1", error="model 20261127T104735Z-583302 could not be loaded: missing file")
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, f"{live_url}/admin/login")
    for path in ("/admin/", "/admin/models", "/admin/runs", "/admin/explore", "/admin/map",
                 "/admin/songs/1"):
        page.goto(f"{live_url}{path}")
        assert path != "/admin/" or page.is_visible("#workers")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide at a 390px viewport"
        nav = page.locator(".topbar nav a").last.bounding_box()
        assert nav["x"] + nav["width"] <= 390, f"{path}: the menu runs off the screen"
        bar = page.locator(".topbar").bounding_box()["height"]
        assert bar <= 96, f"{path}: the top bar is {bar}px high"
    # every control and metric of the wide tables is on the screen, not scrolled away
    for path, selectors in (("/admin/models", ["button.promote", "table.models dl.metrics"]),
                            ("/admin/runs", ["table.runs dl.metrics", "table.runs td"]),
                            ("/admin/", ["#imports td"]), ("/admin/explore", ["table.songs td"])):
        page.goto(f"{live_url}{path}")
        for selector in selectors:
            boxes = [el.bounding_box() for el in page.locator(selector).all()]
            assert boxes, f"{path}: no {selector}"
            for box in boxes:
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"{path}: {selector}"


def test_song_facts_share_one_line_on_a_desktop(page, live_url, admin_app):
    from recsys.db.models import Song
    from tests.admin.conftest import add_rows

    add_rows(admin_app, Song(id=296, source="sample", external_id="s0-00165",
                             title="Ocean Dream", artist="Lonely Rivers", available=False))
    page.set_viewport_size({"width": 1366, "height": 900})
    _log_in(page, f"{live_url}/admin/login?next=/admin/songs/296")
    tops = page.evaluate("Array.from(document.querySelectorAll('dl.facts.pairs > div:not(.wide)'"
                         ")).map(d => Math.round(d.getBoundingClientRect().top))")
    assert len(tops) == 5 and len(set(tops)) == 1, tops  # id ... in model on one line
    gap = page.evaluate("(() => { const d = document.querySelectorAll('dl.facts.pairs > div'); "
                        "return d[1].getBoundingClientRect().left - "
                        "d[0].getBoundingClientRect().right; })()")
    assert gap < 48, f"{gap}px between the id and the next fact"
    assert page.is_visible("#hidden-note")
