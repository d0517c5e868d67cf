"""Validation of query-string and JSON parameters: every bad input becomes a 4xx ``ApiError``.

Nothing here trusts the client: numbers are parsed strictly (no fractions, no booleans, bounded),
lists are capped, JSON bodies are size-limited and must be objects with known keys only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from recsys.api.errors import ApiError
from recsys.db.models import ID_MAX, Song
from recsys.ingest.model import lone_surrogate_at
from recsys.recommend import MAX_K, MODES, UnknownExternalIdError

MAX_SEEDS = 100
MAX_EXCLUDE = 1000
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_OFFSET = 10**9
MAX_QUERY_CHARS = 200
MAX_BODY_BYTES = 256 * 1024
_INT_RE = re.compile(r"^[+-]?[0-9]{1,30}$")
#: A JSON number with a fraction part or exponent (``10.0``, ``1e1``) is an integer to JSON
#: Schema, so to this API too, while a float holds it exactly (up to 2**53).
FLOAT_EXACT = 2**53
#: A song id is a positive integer of at most ``ID_DIGITS`` digits; anything else cannot be
#: an id (400). Every id of that form that names no song (above ``ID_MAX``, the largest the
#: database holds, included) is a 404 of one shape: :func:`unknown_songs`.
ID_DIGITS = 30
ID_LIMIT = 10**ID_DIGITS - 1
ID_RULE = f"a positive integer of at most {ID_DIGITS} digits"
#: Bounds of a source name and of an external id: their database columns.
SOURCE_CHARS: int = Song.__table__.c.source.type.length  # type: ignore[attr-defined]
EXTERNAL_ID_CHARS: int = Song.__table__.c.external_id.type.length  # type: ignore[attr-defined]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def bad(message: str, **extra: object) -> ApiError:
    """A 400 error with ``message``."""
    return ApiError(400, message, **extra)


def parse_int(raw: Any, name: str, lo: int, hi: int, from_json: bool = False) -> int:
    """Strict integer in ``[lo, hi]`` from a query-string value (or a JSON integer, which may
    be written ``10.0`` or ``1e1`` as JSON Schema allows)."""
    rng = f"between {lo} and {hi}" if hi < 10**18 else f"greater than or equal to {lo}"
    if isinstance(raw, bool):
        raise bad(f"{name} must be an integer, not a boolean")
    if isinstance(raw, str) and not from_json:
        text = raw.strip()
        if not _INT_RE.match(text):
            raise bad(f"{name} must be an integer {rng}")
        value = int(text)
    elif isinstance(raw, int):
        value = raw
    elif from_json and isinstance(raw, float) and raw.is_integer():
        _exact(raw, name)
        value = int(raw)
    else:
        raise bad(f"{name} must be an integer {rng}")
    if value > hi >= 10**18:
        raise bad(f"{name} is too large")
    if not lo <= value <= hi:
        raise bad(f"{name} must be an integer {rng}")
    return value


def _exact(raw: float, name: str) -> None:
    if abs(raw) > FLOAT_EXACT:
        raise bad(f"{name} is too large to be exact as {raw!r}: write it without a fraction "
                  "or exponent")


def unknown_songs(ids: Iterable[int]) -> ApiError:
    """The 404 of song ids that name no song, the same on every endpoint."""
    ids = list(ids)
    return ApiError(404, f"unknown song id(s): {', '.join(map(str, ids))}", ids=ids)


def unknown_external(exc: UnknownExternalIdError, source_exists: bool = True) -> ApiError:
    """The 404 of external ids that name no song of their source: listed in
    ``external_ids``; the message quotes each (ids may hold ``, `` or spaces) and says when
    the source itself names no song (a misspelt source looked like missing songs)."""
    names = ", ".join(json.dumps(e, ensure_ascii=False) for e in exc.external_ids)
    hint = "" if source_exists else (f" (no song has source {exc.source!r}: sources are "
                                     "exact, letter case included)")
    return ApiError(404, f"unknown external id(s) of source {exc.source!r}: {names}{hint}",
                    external_ids=exc.external_ids)


def parse_song_id(raw: Any, name: str, from_json: bool = False) -> int:
    """A song id (``ID_RULE``, else 400); whether it names a song is the caller's look-up."""
    if from_json and isinstance(raw, float) and raw.is_integer():
        _exact(raw, name)
    try:
        return parse_int(raw, name, 1, ID_LIMIT, from_json)
    except ApiError:
        raise bad(f"{name} must be {ID_RULE}") from None


def song_id(raw: str) -> int:
    """A song id from the URL (may be above ``ID_MAX``: then it is simply unknown)."""
    return parse_song_id(raw, "song id")


def k(raw: Any, default: int = 10, from_json: bool = False) -> int:
    """Number of results, 1..MAX_K."""
    return default if raw is None else parse_int(raw, "k", 1, MAX_K, from_json)


def max_per_artist(raw: Any, from_json: bool = False) -> int | None:
    """Optional cap of results per artist, 1..MAX_K (absent, null or empty: no cap)."""
    if raw is None or (raw == "" and not from_json):
        return None
    return parse_int(raw, "max_per_artist", 1, MAX_K, from_json)


def mode(raw: Any, default: str) -> str:
    """``similar`` or ``next``."""
    if raw is None:
        return default
    if not isinstance(raw, str) or raw not in MODES:
        raise bad(f"mode must be one of: {', '.join(MODES)}")
    return raw


def flag(raw: Any, name: str, from_json: bool = False) -> bool:
    """A boolean: JSON true/false or query ``true|false|1|0|yes|no|on|off``."""
    if raw is None:
        return False
    if isinstance(raw, bool):
        return raw
    if not from_json and isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise bad(f"{name} must be true or false")


def _ids(values: Iterable[Any], name: str, cap: int, from_json: bool) -> list[int]:
    out = []
    for value in values:
        out.append(parse_song_id(value, f"every entry of {name}", from_json))
        if len(out) > cap:
            raise bad(f"{name} may hold at most {cap} ids")
    return out


def exclude(raw: Any, from_json: bool = False) -> list[int]:
    """Ids to leave out: ``1,2,3`` in a query string or a JSON list of integers.

    Ids above any possible id are dropped (they cannot be in a result anyway).
    """
    if raw is None or raw == "":
        return []
    if isinstance(raw, str) and not from_json:
        values: list[Any] = raw.split(",")
    elif isinstance(raw, list):
        values = raw
    else:
        raise bad("exclude must be a list of song ids")
    return [i for i in _ids(values, "exclude", MAX_EXCLUDE, from_json) if i <= ID_MAX]


def seed_ids(raw: Any) -> list[int]:
    """The non-empty list of seed song ids of a recommendation request."""
    if not isinstance(raw, list):
        raise bad("song_ids must be a non-empty list of song ids")
    if not raw:
        raise bad("song_ids must name at least one song")
    return _ids(raw, "song_ids", MAX_SEEDS, from_json=True)


def name(raw: Any, field: str, max_chars: int) -> str:
    """A source name or an external id: a string of at most ``max_chars`` characters without
    NUL bytes, not blank; stripped (as the importers store them)."""
    if not isinstance(raw, str):
        raise bad(f"{field} must be a string")
    if len(raw) > max_chars or "\x00" in raw:
        raise bad(f"{field} must be at most {max_chars} characters without NUL bytes")
    _unicode(raw, field)
    if not raw.strip():
        raise bad(f"{field} must not be empty")
    return raw.strip()


def required(raw: Any, field: str) -> Any:
    """``raw``, or a 400 when it is absent."""
    if raw is None:
        raise bad(f"{field} is required")
    return raw


def source(raw: Any) -> str:
    """The source the external ids of a request belong to."""
    return name(raw, "source", SOURCE_CHARS)


def external_ids(raw: Any, field: str, cap: int, at_least_one: bool) -> list[str]:
    """A JSON list of at most ``cap`` external ids (stripped)."""
    if not isinstance(raw, list):
        raise bad(f"{field} must be a list of strings (ids of the source)")
    if at_least_one and not raw:
        raise bad(f"{field} must name at least one song")
    if len(raw) > cap:
        raise bad(f"{field} may hold at most {cap} ids")
    return [name(value, f"every entry of {field}", EXTERNAL_ID_CHARS) for value in raw]


def no_nulls(body: Mapping[str, Any], nullable: Collection[str]) -> None:
    """400 for a field sent as JSON ``null`` unless it is ``nullable`` (the OpenAPI document
    says which): a typed field is given a value of its type, or left out for its default."""
    nulls = sorted(name for name, value in body.items() if value is None and name not in nullable)
    if nulls:
        raise bad(f"{', '.join(nulls)} must not be null (leave a field out for its default)")


def text(raw: str | None, name: str, max_chars: int = MAX_QUERY_CHARS) -> str | None:
    """Optional short text filter (stripped; empty means absent)."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > max_chars or "\x00" in raw:
        raise bad(f"{name} must be at most {max_chars} characters without NUL bytes")
    _unicode(raw, name)
    return raw.strip()


def _unicode(raw: str, field: str) -> None:
    """400 for a string that is not valid Unicode text: a JSON escape such as ``"\\ud800"``
    decodes to a lone surrogate, which no database (nor UTF-8) can store."""
    if (at := lone_surrogate_at(raw)) is not None:
        raise bad(f"{field} must be valid Unicode text (a lone surrogate "
                  f"\\u{ord(raw[at]):04x} at character {at + 1})")


def page(args: Mapping[str, str]) -> tuple[int, int]:
    """``(limit, offset)``: limit 1..100 (default 20), offset >= 0."""
    limit = DEFAULT_LIMIT if args.get("limit") in (None, "") else parse_int(
        args["limit"], "limit", 1, MAX_LIMIT)
    offset = 0 if args.get("offset") in (None, "") else parse_int(
        args["offset"], "offset", 0, MAX_OFFSET)
    return limit, offset


def query_args(allowed: Collection[str], lists: Collection[str] = ()) -> dict[str, str]:
    """The query string as a plain dict: 400 for an unknown or a repeated parameter (a
    silently ignored ``limt=5`` or second ``k=`` is a client bug that goes unseen). A list
    parameter (``lists``) may repeat: ``exclude=1&exclude=2`` is ``exclude=1,2`` (OpenAPI's
    default form, which clients that ignore ``explode: false`` send)."""
    args = request.args
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        hint = (f"; allowed: {', '.join(sorted(allowed))}" if allowed else
                " (send them in the body)" if request.method == "POST" else
                " (this endpoint takes none)")
        raise bad(f"unknown query parameter(s): {', '.join(unknown)}{hint}")
    if any(len(values) > 1 for values in args.listvalues()):
        repeated = sorted(k for k, values in args.lists() if len(values) > 1 and k not in lists)
        if repeated:
            raise bad(f"repeated query parameter(s): {', '.join(repeated)}"
                      " (give a list as one comma-separated value)")
        return {k: ",".join(values) for k, values in args.lists()}
    # a plain dict because MultiDict.get raises and catches an exception per absent name
    return args.to_dict()


def json_object(allowed: Iterable[str]) -> dict[str, Any]:
    """The request body as a JSON object with only ``allowed`` keys (400/413/415 otherwise)."""
    # one byte more than allowed: a body without Content-Length (chunked) is cut there,
    # so reaching it means too large (instead of a truncated body reported as bad JSON)
    request.max_content_length = MAX_BODY_BYTES + 1
    if not request.is_json:
        raise ApiError(415, "the request body must be JSON (Content-Type: application/json)")
    try:
        if len(request.get_data(cache=True)) > MAX_BODY_BYTES:
            raise RequestEntityTooLarge()
        body = request.get_json()
    except RequestEntityTooLarge as exc:
        raise ApiError(413, f"the request body must be at most {MAX_BODY_BYTES} bytes") from exc
    except (BadRequest, UnsupportedMediaType, RecursionError) as exc:
        raise bad("the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return body
