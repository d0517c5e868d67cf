"""Requests for the OpenAPI contract tests: a case, the servers it runs on, and the checks."""

from __future__ import annotations

import json
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.api.conftest import app_for, copy_versions
from tests.api.contract import Contract

ETAG_OF_SELF = "<the ETag of the same request>"
NO_BODY = object()


@dataclass(frozen=True)
class Case:
    status: int
    method: str
    path: str  # as documented: /api/songs/{song_id}
    values: dict[str, Any] = field(default_factory=dict)  # path parameters
    query: str = ""
    body: Any = NO_BODY  # JSON
    raw: bytes | None = None  # a body sent as is
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    app: str = "ok"  # "ok", "no_model" (nothing promoted), "db_down" or "broken"
    check: Any = None  # optional predicate of the JSON body

    def __str__(self) -> str:
        values = ",".join(f"{v}" for v in self.values.values())
        body = "" if self.body is NO_BODY else json.dumps(self.body)[:40]
        return (f"{self.status}-{self.method}-{self.path}-{values}-{self.query[:40]}-{body}"
                f"-{self.app}")


def C(status: int, method: str, path: str, query: str = "", **kw: Any) -> Case:  # noqa: N802
    """A case; ``song_id=`` fills the path."""
    values = {"song_id": kw.pop("song_id")} if "song_id" in kw else {}
    return Case(status, method, path, values, query, **kw)


def _bug() -> None:
    raise RuntimeError("an injected bug (a traceback in the log is expected)")


def make_clients(root: Path, source_store, sqlite_file: Path) -> dict[str, Any]:
    """One read-only client per kind of server: with a model, with none, without a database,
    and one whose every request hits a bug (an exception nothing expects: the 500s)."""
    shutil.copy(sqlite_file, root / "catalog.db")
    copy_versions(source_store, root / "ok" / "models").set_current("v1")
    copy_versions(source_store, root / "none" / "models")
    copy_versions(source_store, root / "down" / "models").set_current("v1")
    with socket.socket() as sock:  # a port nothing listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = f"sqlite:///{root / 'catalog.db'}"
    copy_versions(source_store, root / "broken" / "models").set_current("v1")
    broken = app_for(db, root / "broken")
    broken.before_request(_bug)
    return {"ok": app_for(db, root / "ok").test_client(), "broken": broken.test_client(),
            "no_model": app_for(db, root / "none").test_client(),
            "db_down": app_for(f"postgresql+psycopg://nobody@127.0.0.1:{port}/gone",
                               root / "down").test_client()}


def send(client, case: Case):
    """The response to ``case`` and what was sent: headers, body bytes, content type."""
    url = case.path
    for name, value in case.values.items():
        url = url.replace(f"{{{name}}}", quote(str(value), safe=""))
    url += f"?{case.query}" if case.query else ""
    headers = dict(case.headers)
    if headers.get("If-None-Match") == ETAG_OF_SELF:
        headers["If-None-Match"] = client.get(url).headers["ETag"]
    data, content_type = case.raw, case.content_type
    if case.body is not NO_BODY:
        data, content_type = json.dumps(case.body).encode(), "application/json"
    resp = client.open(url, method=case.method.upper(), data=data, content_type=content_type,
                       headers=headers)
    return resp, headers, data, content_type


def run(contract: Contract, client, case: Case, doc_valid: bool | None = None):
    """Send ``case`` and check its status, the response against the document and, unless
    ``doc_valid`` is None (the document cannot tell, e.g. a size in bytes), that the document
    finds the request valid (``True``) or not (``False``). Default: by the expected status."""
    if doc_valid is None and case.status != 413:
        doc_valid = case.status not in (400, 415)
    resp, headers, data, content_type = send(client, case)
    text = resp.get_data(as_text=True)[:300]
    assert resp.status_code == case.status, text
    assert contract.response_errors(case.path, case.method, resp) == [], text
    if resp.status_code >= 400:  # the body's status is the response's
        assert resp.get_json()["error"]["status"] == resp.status_code, text
    if doc_valid is not None:
        why = contract.request_errors(case.path, case.method,
                                      {k: str(v) for k, v in case.values.items()},
                                      case.query, headers, data, content_type)
        assert (why == []) is doc_valid, why or "the document finds this request valid"
    if case.check is not None:
        assert case.check(resp.get_json()), text
    return resp
