"""Security walk: text from imported files and from errors is escaped on the dashboard (the
by-id search results, the imports' "changed" column, the overview's failed-run line)."""

from __future__ import annotations

from datetime import UTC, datetime

from recsys.db.models import ImportRun, Song, TrainingRun
from tests.admin.test_pages import _add

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_imported_text_and_errors_are_escaped(admin, admin_app):
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    _add(admin_app,
         Song(source="evil", external_id="xss-1", title=XSS, artist=f"=HYPERLINK(\"x\"){XSS}"),
         ImportRun(kind="csv", source=XSS, path=f"/in/{XSS}.csv", started_at=at,
                   finished_at=at, songs_added=1, playlists_added=0, items_added=0,
                   duration_s=0.1, changes={"songs_updated": 2, XSS: 3}),
         TrainingRun(status="failed", started_at=at, finished_at=at, settings={},
                     error=f"/in/{XSS}.csv:3: bad line"))
    for url in ("/admin/explore?q=xss-1", "/admin/"):
        html = admin.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
