"""Server-side dashboard sessions and the failed-login throttle, kept in the database.

The signed session cookie carries a random token; ``admin_sessions`` keeps its SHA-256 with
the login time and the last activity. A session is valid while its row exists, it is younger
than the absolute lifetime and it was used within the idle timeout, so logging out (the row is
deleted) ends it on every worker at once, and a copied cookie stops working too. Failed logins
are rows of ``admin_login_failures``, counted per client address over a sliding window by all
workers together.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from recsys.db.models import AdminSession, LoginFailure

#: ``last_seen_at`` is written at most this often (not on every page view).
TOUCH_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone columns; they are stored in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def start(db: Session, username: str, address: str | None, max_age: timedelta) -> str:
    """Record a new login and return its token (for the cookie); drops expired sessions."""
    now = _now()
    db.execute(delete(AdminSession).where(AdminSession.created_at < now - max_age))
    token = secrets.token_urlsafe(32)
    db.add(AdminSession(token_hash=_hash(token), username=username[:128],
                        address=(address or "")[:64] or None, created_at=now, last_seen_at=now))
    db.commit()
    return token


def user_of(db: Session, token: str | None, max_age: timedelta, idle: timedelta) -> str | None:
    """The user name of a live session, or None (unknown, ended, too old or idle too long)."""
    if not token:
        return None
    row = db.get(AdminSession, _hash(str(token)))
    if row is None:
        return None
    now = _now()
    if now - _aware(row.created_at) > max_age or now - _aware(row.last_seen_at) > idle:
        db.delete(row)
        db.commit()
        return None
    # written at most every minute, and often enough within the idle limit that a session
    # in use never idles out: requests less than 0.9 x idle apart keep it (at idle = 1 min
    # it used to end 60 s after the login however busy the user was)
    if now - _aware(row.last_seen_at) > min(TOUCH_EVERY, idle / 10):
        row.last_seen_at = now
        db.commit()
    return row.username


def end(db: Session, token: str | None) -> None:
    """Log a session out (nothing happens for an unknown token)."""
    if token:
        db.execute(delete(AdminSession).where(AdminSession.token_hash == _hash(str(token))))
        db.commit()


def retry_after(db: Session, address: str, max_failures: int, window: timedelta) -> int:
    """Seconds until ``address`` may try to log in again (0: now)."""
    now = _now()
    times = db.scalars(select(LoginFailure.at).where(
        LoginFailure.address == address[:64], LoginFailure.at > now - window,
    ).order_by(LoginFailure.at)).all()
    if len(times) < max_failures:
        return 0
    oldest = _aware(times[-max_failures])
    return max(1, int((oldest + window - now).total_seconds()) + 1)


def record_failure(db: Session, address: str, window: timedelta) -> None:
    """Count a failed login of ``address``; drops every record older than the window."""
    now = _now()
    db.execute(delete(LoginFailure).where(LoginFailure.at < now - window))
    db.add(LoginFailure(address=address[:64], at=now))
    db.commit()


def clear_failures(db: Session, address: str) -> None:
    """Forget the failures of ``address`` (after a successful login)."""
    db.execute(delete(LoginFailure).where(LoginFailure.address == address[:64]))
    db.commit()
