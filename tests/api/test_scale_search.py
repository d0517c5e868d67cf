"""``/api/songs?external_id=X`` without a source searches the ``(source, external_id)``
index once per source instead of reading every song (as the dashboard's id search does)."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from recsys.api.queries import search_songs
from tests.admin.test_scale_queries import _plans, _songs


def test_an_external_id_without_a_source_is_searched_in_the_index(engine):
    _songs(engine)
    with Session(engine) as session:
        found, total = search_songs(session, None, None, "trk-7", limit=10, offset=0)
        assert total == 2 and sorted(s["source"] for s in found) == ["acme", "zeta"]
        assert search_songs(session, None, None, "nope", 10, 0) == ([], 0)
        assert search_songs(session, "t4", None, "42", 10, 0)[1] == 3  # with the other filters
        assert search_songs(session, None, "radio", "42", 10, 0)[1] == 1
        plans = _plans(engine, lambda: search_songs(session, None, None, "42", 10, 0))
    assert len(plans) == 3  # the sources, the count, the page
    for plan in plans:
        assert "SCAN songs\n" not in plan + "\n", plan  # no read of the whole table
    for plan in plans[1:]:
        if engine.dialect.name == "sqlite":
            assert "(source=? AND external_id=?)" in plan, plan
        else:  # both columns of the unique index searched, not external_id over all of it
            assert re.search(r"Index Cond: \(\(\(?source\)?.* AND .*external_id", plan), plan


def test_an_empty_catalog_finds_nothing(engine):
    with Session(engine) as session:
        assert search_songs(session, None, None, "42", 10, 0) == ([], 0)
