"""The dashboard's word search ignores accents and case, like the API's, on both databases."""

from __future__ import annotations

import re

from tests.admin.conftest import PASSWORD, USER, login
from tests.api.test_songs import add_accented


def _ids(client, q: str) -> list[int]:
    html = client.get("/admin/explore", query_string={"q": q}).get_data(as_text=True)
    return [int(i) for i in re.findall(r'href="/admin/songs/(\d+)"', html)]


def test_words_match_without_accents_on_both_databases(build_app, db_url):
    app = build_app(url=db_url, ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD,
                    ADMIN_LOGIN_DELAY=0)
    add_accented(app)
    client = app.test_client()
    assert login(client).status_code == 302
    found = {q: _ids(client, q) for q in (
        "beyonce halo", "HALO BEYONCÉ", "crue motley feelgood", "sigur ros hoppipolla",
        "royksopp", "strasse arzte", "Die Ärzte — Straße", "dont", "don't journey",
        "東京事変", "istanbul isik", "beyonce feelgood")}
    assert found == {
        "beyonce halo": [9101], "HALO BEYONCÉ": [9101], "crue motley feelgood": [9102],
        "sigur ros hoppipolla": [9103], "royksopp": [9104], "strasse arzte": [9105],
        "Die Ärzte — Straße": [9105], "dont": [], "don't journey": [9106],
        "東京事変": [9107], "istanbul isik": [9108], "beyonce feelgood": [],
    }
    html = client.get("/admin/explore?q=BEYONCE").get_data(as_text=True)
    assert "1 song matching" in html and "Beyoncé" in html  # shown as stored
