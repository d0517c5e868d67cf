"""The ``pages`` step of ``scale_walk.py``, run in its own process (its peak RSS is the app's).

Prints, in Markdown: the app's start and model load, then per dashboard page and API request
the status, cold and warm milliseconds, body size, statements and the slowest statement (with
its plan below the table).
"""

from __future__ import annotations

import re
import resource
import time
from collections.abc import Callable

import numpy as np
from sqlalchemy import event, select, text

PASSWORD = "scale-walk-password"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Statements:
    """Every statement of the engine with its duration (seconds), reset per request."""

    def __init__(self, engine) -> None:
        self.rows: list[tuple[float, str, object]] = []
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._started.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        took = time.perf_counter() - self._started.pop()
        self.rows.append((took, statement, parameters))


def plan(engine, statement: str, parameters) -> str:
    """The database's plan of one captured statement."""
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(prefix + statement, parameters)
        rows = cur.fetchall()
        raw.rollback()
    finally:
        raw.close()
    if engine.dialect.name == "sqlite":
        return "\n".join(f"    {r[-1]}" for r in rows)
    return "\n".join(f"    {r[0]}" for r in rows)


def ids_to_visit(app, model) -> dict[str, int]:
    """The most and least played songs of the model, one it lacks, and the map's size."""
    from recsys.extensions import db

    with app.app_context():
        if model is not None:
            counts = np.asarray(model.counts)
            top = int(model.song_ids[int(np.argmax(counts))])
            tail = int(model.song_ids[int(np.argmin(counts))])
            known = set(int(i) for i in model.song_ids)
        else:  # no model yet: the most played song by the database, the newest song
            top = int(db.session.scalar(text(
                "SELECT song_id FROM playlist_items GROUP BY song_id ORDER BY COUNT(*) DESC "
                "LIMIT 1")))
            tail = int(db.session.scalar(text("SELECT MAX(id) FROM songs")))
            known = set()
        cold = next((int(i) for i in db.session.scalars(
            select(text("id")).select_from(text("songs")).order_by(text("id DESC")).limit(50000))
            if int(i) not in known), tail)
        ext = db.session.execute(text("SELECT source, external_id FROM songs WHERE id = :i"),
                                 {"i": top}).one()
        n_songs = db.session.scalar(text("SELECT COUNT(*) FROM songs"))
    return {"top": top, "tail": tail, "cold": cold, "source": ext[0], "external_id": ext[1],
            "last_page": max(1, -(-int(n_songs) // 25))}


def requests(ids: dict) -> list[tuple[str, str, Callable]]:
    """(name, path, call) of every page and endpoint walked."""
    top, tail, cold = ids["top"], ids["tail"], ids["cold"]
    src, ext = ids["source"], ids["external_id"]
    get = "GET"
    pages = [
        ("overview", "/admin/"),
        ("explore (no search)", "/admin/explore"),
        ("explore page 2", "/admin/explore?page=2"),
        ("explore last page", f"/admin/explore?page={ids['last_page']}"),
        ("explore hidden", "/admin/explore?hidden=1"),
        ("explore q=love", "/admin/explore?q=love"),
        ("explore q=love night", "/admin/explore?q=love+night"),
        ("explore q=zzzz (no match)", "/admin/explore?q=zzzz"),
        ("explore q=<external id>", f"/admin/explore?q={ext}"),
        ("song page (most played)", f"/admin/songs/{top}"),
        ("song page (least played)", f"/admin/songs/{tail}"),
        ("song page (not in model)", f"/admin/songs/{cold}"),
        ("models", "/admin/models"),
        ("training runs", "/admin/runs"),
        ("training run 1", "/admin/runs/1"),
        ("map", "/admin/map"),
        ("map.json", "/admin/map.json"),
        ("api songs q=love", "/api/songs?q=love"),
        ("api songs q=zzzz", "/api/songs?q=zzzz"),
        ("api songs last offset", f"/api/songs?offset={ids['last_page'] * 25 - 20}"),
        ("api songs by external id", f"/api/songs?source={src}&external_id={ext}"),
        ("api song", f"/api/songs/{top}"),
        ("api similar (top)", f"/api/songs/{top}/similar?k=10"),
        ("api next explain (top)", f"/api/songs/{top}/similar?k=10&mode=next&explain=true"),
        ("api similar (cold: fallback)", f"/api/songs/{cold}/similar?k=10&explain=true"),
        ("api similar by external id", f"/api/similar?source={src}&external_id={ext}&k=10"),
        ("api ready", "/api/ready"),
        ("metrics", "/metrics"),
    ]
    out = [(name, path, get) for name, path in pages]
    out.append(("api recommendations (3 seeds)", "/api/recommendations",
                {"song_ids": [top, tail, cold], "k": 10, "explain": True}))
    return out


def probe() -> None:
    """Start the app, load the model, walk every page twice; print Markdown."""
    started = time.perf_counter()
    rss0 = rss_mb()
    from recsys import create_app
    from recsys.api import deps
    from recsys.extensions import db

    app = create_app()
    created = time.perf_counter()
    model = deps.warm(app)
    loaded = time.perf_counter()
    print(f"\napp start {created - started:.2f} s; model load {loaded - created:.2f} s "
          f"({len(model) if model else 0:,} songs); peak RSS {rss0:.0f} → {rss_mb():.0f} MB\n")
    with app.app_context():
        engine = db.engine
    stmts = Statements(engine)
    ids = ids_to_visit(app, model)
    client = app.test_client()
    html = client.get("/admin/login").get_data(as_text=True)
    token = CSRF_RE.search(html).group(1)
    assert client.post("/admin/login", data={"username": "admin", "password": PASSWORD,
                                             "csrf_token": token}).status_code == 302
    print("| request | status | cold ms | warm ms | KB | statements | slowest statement ms "
          "| peak RSS MB |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    slow: list[tuple[float, str, str, object]] = []
    for name, path, how in requests(ids):
        times = []
        for _ in range(2):
            stmts.rows.clear()
            t0 = time.perf_counter()
            resp = client.get(path) if how == "GET" else client.post(path, json=how)
            times.append(time.perf_counter() - t0)
            body = resp.get_data()
        worst = max(stmts.rows, default=(0.0, "", None))
        if worst[0] > 0.05:
            slow.append((worst[0], name, worst[1], worst[2]))
        print(f"| {name} | {resp.status_code} | {times[0] * 1000:,.0f} | {times[1] * 1000:,.0f} "
              f"| {len(body) / 1024:,.0f} | {len(stmts.rows)} | {worst[0] * 1000:,.0f} "
              f"| {rss_mb():,.0f} |", flush=True)
    print("\nStatements over 50 ms (warm), with their plans:\n")
    for took, name, statement, parameters in sorted(slow, reverse=True):
        one_line = " ".join(statement.split())
        print(f"- {name}: {took * 1000:,.0f} ms `{one_line[:300]}`\n")
        print(plan(engine, statement, parameters) + "\n")
