"""Songs named by their source's ids (``external_id``) instead of catalog ids: ``GET
/api/similar?source=…&external_id=…`` and ``POST /api/recommendations`` with ``source`` and
``external_ids`` / ``exclude_external_ids`` answer exactly what the catalog ids answer.

The planted catalog's source is ``planted`` and a model song's external id is its catalog id
as a string (``"1000"``); the cold-start songs are ``cold-cooc``, ``cold-artist`` (planted)
and ``x%_y`` (source ``other``).
"""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import quote

import pytest
from sqlalchemy import event

from recsys.api.deps import holder
from recsys.db.models import Song
from recsys.db.session import make_engine, session_scope
from tests.api.conftest import COLD_ALONE, COLD_ARTIST, COLD_COOC, FIRST

EXTRA = 9100  # a cold song by FIRST's artist, with a '/' in its external id (added by tests)
EXTERNAL = {COLD_COOC: ("planted", "cold-cooc"), COLD_ARTIST: ("planted", "cold-artist"),
            COLD_ALONE: ("other", "x%_y"), EXTRA: ("planted", "cold/extra")}


def _ext(song_id: int) -> tuple[str, str]:
    return EXTERNAL.get(song_id, ("planted", str(song_id)))


def _query(**params) -> str:
    return "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())


def _pair(client, song_id: int, **params):
    """The answers of ``/songs/{id}/similar`` and of ``/similar`` by its external id."""
    by_id = client.get(f"/api/songs/{song_id}/similar?{_query(**params)}")
    source, external_id = _ext(song_id)
    query = _query(source=source, external_id=external_id, **params)
    by_ext = client.get(f"/api/similar?{query}")
    return by_id, by_ext


def _same(by_id, by_ext) -> dict:
    assert by_id.status_code == by_ext.status_code == 200, by_ext.get_data(as_text=True)
    assert by_ext.get_data() == by_id.get_data()  # byte for byte
    for name in ("ETag", "Cache-Control", "Content-Type"):
        assert by_ext.headers.get(name) == by_id.headers.get(name), name
    return by_ext.get_json()


def _recommend(client, **body):
    return client.post("/api/recommendations", json=body)


def _ids(body) -> list[int]:
    return [i["song"]["id"] for i in body["items"]]


@contextmanager
def counting_queries(app):
    """A list that receives every SQL statement ``app``'s engine runs meanwhile."""
    from recsys.extensions import db

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _add_extra_song(app) -> None:
    from recsys.extensions import db

    with app.app_context():
        engine = make_engine(str(db.engine.url))
    with session_scope(engine) as session:
        artist = session.get(Song, FIRST).artist
        session.add(Song(id=EXTRA, source="planted", external_id="cold/extra",
                         title="Another Late Single", artist=artist))
    engine.dispose()


# -- /api/similar ---------------------------------------------------------------------------


@pytest.mark.parametrize("song_id", [FIRST, FIRST + 7, COLD_COOC, COLD_ARTIST, COLD_ALONE])
@pytest.mark.parametrize("params", [
    {}, {"mode": "next"}, {"mode": "similar", "k": 25, "max_per_artist": 2},
    {"mode": "next", "k": 15, "exclude": f"{FIRST + 1},{FIRST + 2},{COLD_COOC}"},
    {"mode": "next", "explain": "true", "k": 5}, {"mode": "similar", "explain": "true"}])
def test_similar_by_external_id_is_similar_by_catalog_id(shared_api, song_id, params):
    body = _same(*_pair(shared_api, song_id, **params))
    assert body["song"]["id"] == song_id and len(body["items"]) == params.get("k", 10)
    assert (body["fallback"] is None) == (song_id < 9000)


@pytest.mark.parametrize("song_id", [FIRST, COLD_COOC])
@pytest.mark.parametrize("mode", ["similar", "next"])
def test_similar_excludes_by_external_id_as_by_catalog_id(shared_api, song_id, mode):
    """``exclude_external_id`` repeated (one id each: ids may hold commas) leaves out what
    ``exclude`` with the catalog ids leaves out; unknown ones are ignored."""
    first = shared_api.get(f"/api/songs/{song_id}/similar?mode={mode}&k=5").get_json()
    gone = [item["song"]["id"] for item in first["items"][:3]]
    by_id = shared_api.get(f"/api/songs/{song_id}/similar?mode={mode}&k=5&exclude="
                           + ",".join(map(str, gone)))
    source, external_id = _ext(song_id)
    repeated = "".join(f"&exclude_external_id={quote(_ext(i)[1], safe='')}" for i in gone)
    by_ext = shared_api.get(f"/api/similar?{_query(source=source, external_id=external_id)}"
                            f"&mode={mode}&k=5{repeated}&exclude_external_id=no%2Csuch")
    body = _same(by_id, by_ext)
    assert not set(gone) & set(_ids(body)) and len(body["items"]) == 5


def test_etag_and_304_are_shared_with_the_catalog_id_route(api, model_store):
    query = _query(source="planted", external_id=FIRST, k=5)
    first = api.get(f"/api/similar?{query}")
    etag = first.headers["ETag"]
    assert etag == 'W/"v1"' and first.headers["Cache-Control"] == "no-cache"
    for url in (f"/api/similar?{query}", f"/api/songs/{FIRST}/similar?k=5"):
        again = api.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    model_store.set_current("v2")
    holder(api.application).refresh(wait=True)
    fresh = api.get(f"/api/similar?{query}", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == 'W/"v2"'
    cold = api.get(f"/api/similar?{_query(source='planted', external_id='cold-cooc')}")
    assert "ETag" not in cold.headers and cold.headers["Cache-Control"] == "no-cache"


def test_external_ids_with_a_slash_and_spaces(api_app):
    _add_extra_song(api_app)
    client = api_app.test_client()
    body = _same(*_pair(client, EXTRA, k=8))
    assert body["song"]["external_id"] == "cold/extra" and body["fallback"] == "same_artist"
    query = _query(source=" planted ", external_id=" cold/extra ", k=8)
    padded = client.get(f"/api/similar?{query}")
    assert padded.get_json() == body


def test_unknown_external_id_is_a_404_listing_it(shared_api):
    for source, external_id in (("planted", "nope/1"), ("nowhere", str(FIRST)),
                                ("Planted", str(FIRST)), ("planted", "COLD-COOC")):
        resp = shared_api.get(f"/api/similar?{_query(source=source, external_id=external_id)}")
        assert resp.status_code == 404
        error = resp.get_json()["error"]
        assert error["external_ids"] == [external_id] and "ids" not in error
        assert repr(source) in error["message"] and external_id in error["message"]


# -- /api/recommendations -------------------------------------------------------------------


def _by_external(seeds: list[int], exclude: list[int] = (), **options) -> dict:
    source = _ext(seeds[0])[0]
    assert all(_ext(s)[0] == source for s in [*seeds, *exclude])
    return {"source": source, "external_ids": [_ext(s)[1] for s in seeds],
            **({"exclude_external_ids": [_ext(s)[1] for s in exclude]} if exclude else {}),
            **options}


@pytest.mark.parametrize("mode", ["similar", "next"])
@pytest.mark.parametrize(("seeds", "exclude"), [
    ([FIRST], []), ([FIRST, FIRST + 1, FIRST + 105], [FIRST + 2, FIRST + 3]),
    ([COLD_COOC, FIRST + 5], [FIRST + 6]),  # a cold seed beside a known one: the model
    ([COLD_COOC], [FIRST + 1]), ([COLD_ARTIST, COLD_COOC], [FIRST + 1, FIRST + 2])])
def test_recommendations_by_external_ids_are_by_catalog_ids(shared_api, mode, seeds, exclude):
    options = {"mode": mode, "k": 12, "explain": True, "max_per_artist": 2}
    by_id = _recommend(shared_api, song_ids=seeds, exclude=exclude, **options)
    by_ext = _recommend(shared_api, **_by_external(seeds, exclude, **options))
    assert by_id.status_code == by_ext.status_code == 200, by_ext.get_data(as_text=True)
    assert by_ext.get_json() == by_id.get_json()
    body = by_ext.get_json()
    assert [s["id"] for s in body["seeds"]] == seeds and len(body["items"]) == 12
    assert not set(_ids(body)) & {*seeds, *exclude}
    # the two exclusion lists add up; catalog seeds may be excluded by external id too
    half = len(exclude) // 2
    mixed = _recommend(shared_api, song_ids=seeds, exclude=exclude[:half], source="planted",
                       exclude_external_ids=[_ext(s)[1] for s in exclude[half:]], **options)
    assert mixed.get_json() == by_id.get_json()


def test_exclude_external_ids_reach_the_database_fallback(api_app):
    """A cold seed's answer comes from the database, where excluded songs the model does not
    know may be: they are looked up too (in the seeds' one query)."""
    _add_extra_song(api_app)
    client = api_app.test_client()
    plain = _recommend(client, source="planted", external_ids=["cold-artist"], k=10).get_json()
    assert plain["fallback"] == "same_artist" and EXTRA in _ids(plain)
    with counting_queries(api_app) as statements:
        body = _recommend(client, source="planted", external_ids=["cold-artist"], k=10,
                          exclude_external_ids=["cold/extra", str(FIRST), "gone"]).get_json()
    assert not {EXTRA, FIRST} & set(_ids(body)) and len(body["items"]) == 10
    by_id = _recommend(client, song_ids=[COLD_ARTIST], exclude=[EXTRA, FIRST], k=10)
    assert body == by_id.get_json()
    lookups = [s for s in statements if "external_id IN" in s]
    assert len(lookups) == 1, statements


def test_duplicates_and_padding_resolve_like_catalog_ids(shared_api):
    by_ext = _recommend(shared_api, source="planted",
                        external_ids=[str(FIRST), f" {FIRST + 1}", str(FIRST), f"{FIRST}\t"])
    by_id = _recommend(shared_api, song_ids=[FIRST, FIRST + 1, FIRST, FIRST])
    assert by_ext.get_json() == by_id.get_json()
    assert [s["id"] for s in by_ext.get_json()["seeds"]] == [FIRST, FIRST + 1]


def test_unknown_seeds_are_one_404_listing_each_once(shared_api):
    resp = _recommend(shared_api, source="planted",
                      external_ids=["x1", str(FIRST), "cold-cooc", "x2", "x1", " x2 "])
    assert resp.status_code == 404
    error = resp.get_json()["error"]
    assert error == {"status": 404, "external_ids": ["x1", "x2"],
                     "message": "unknown external id(s) of source 'planted': \"x1\", \"x2\""}
    # a song of another source is unknown under this one
    resp = _recommend(shared_api, source="other", external_ids=["x%_y", "cold-cooc"])
    assert resp.status_code == 404 and resp.get_json()["error"]["external_ids"] == ["cold-cooc"]
    # unknown excluded ids are ignored, as unknown catalog ids in exclude are
    resp = _recommend(shared_api, source="planted", external_ids=[str(FIRST)],
                      exclude_external_ids=["x1"])
    assert resp.status_code == 200


@pytest.mark.parametrize(("body", "message"), [
    ({"song_ids": [FIRST], "source": "planted", "external_ids": [str(FIRST)]}, "not both"),
    ({"k": 5}, "one of them is required"),
    ({"external_ids": [str(FIRST)]}, "source is required"),
    ({"song_ids": [FIRST], "exclude_external_ids": ["1"]}, "source is required"),
    ({"song_ids": [FIRST], "source": "planted"}, "leave source out"),
    ({"source": "planted", "external_ids": ["ok", "  "]}, "must not be empty"),
    ({"source": "planted", "external_ids": ["é" * 129]}, "at most 128 characters"),
    ({"source": "planted", "external_ids": [1000]}, "must be a string"),
    ({"source": " ", "external_ids": ["1"]}, "source must not be empty"),
    ({"source": "s" * 65, "external_ids": ["1"]}, "at most 64 characters"),
])
def test_malformed_forms_are_400s_saying_why(shared_api, body, message):
    resp = _recommend(shared_api, **body)
    assert resp.status_code == 400 and message in resp.get_json()["error"]["message"]


def test_an_external_id_of_128_characters_is_looked_up(shared_api):
    resp = _recommend(shared_api, source="planted", external_ids=["é" * 128])
    assert resp.status_code == 404  # valid, and names no song
