"""Configuration classes, read from the environment.

``Config`` is the development default, ``TestConfig`` is used by the test-suite and
``ProductionConfig`` refuses to start without its secrets. Select one with
``RECSYS_ENV`` (``development`` | ``production``) or pass a class to ``create_app``.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
from pathlib import Path


def _var_dir() -> Path:
    """Directory for everything generated (database, model bundles, logs)."""
    return Path(os.environ.get("RECSYS_VAR_DIR", "var")).resolve()


def _env_number(name: str, default, kind: type, what: str, minimum: float, why: str = ""):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        raise RuntimeError(f"environment variable {name} must be {what}, got {raw!r}") from exc
    if not math.isfinite(value) or value < minimum:
        raise RuntimeError(f"environment variable {name} must be {what} >= {minimum:g}, got "
                           f"{raw!r}{why}")
    return value


def _env_int(name: str, default: int, minimum: int = 0, why: str = "") -> int:
    return _env_number(name, default, int, "an integer", minimum, why)


def _env_float(name: str, default: float, minimum: float = 0.0) -> float:
    return _env_number(name, default, float, "a number", minimum)


def _log_level() -> str:
    """``RECSYS_LOG_LEVEL``: a level name of :mod:`logging` (a typo failed at start-up with
    a traceback from the logging set-up)."""
    level = os.environ.get("RECSYS_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if not isinstance(logging.getLevelName(level), int):
        raise RuntimeError(f"environment variable RECSYS_LOG_LEVEL must be one of DEBUG, INFO, "
                           f"WARNING, ERROR, CRITICAL, got {level!r}")
    return level


def _database_url(var: Path) -> str:
    """``DATABASE_URL`` (default: SQLite under ``var``), refused here when it cannot be parsed
    or names a database other than SQLite and PostgreSQL (a traceback from SQLAlchemy or a
    missing driver before)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{var / 'recsys.db'}"
    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise RuntimeError("environment variable DATABASE_URL is not a database URL (e.g. "
                           "postgresql://user:password@host:5432/name or sqlite:///path)") from None
    if backend not in {"sqlite", "postgresql", "postgres"}:
        raise RuntimeError(f"environment variable DATABASE_URL names a {backend!r} database: "
                           "only PostgreSQL and SQLite are supported")
    return url


#: Production refuses shorter (or blank) secrets.
MIN_SECRET_KEY_CHARS = 16
MIN_ADMIN_PASSWORD_CHARS = 8


class Config:
    """Development configuration: SQLite under ``./var`` unless ``DATABASE_URL`` is set."""

    ENV_NAME = "development"
    DEBUG = False
    TESTING = False
    # request bodies: the dashboard's forms are small, the API raises its own JSON limit per
    # request (recsys.api.params.MAX_BODY_BYTES); anything bigger is refused before it is read
    MAX_CONTENT_LENGTH = 64 * 1024
    MAX_FORM_MEMORY_SIZE = 64 * 1024
    MAX_FORM_PARTS = 50

    def __init__(self) -> None:
        var = _var_dir()
        self.VAR_DIR = str(var)
        self.DATABASE_URL = _database_url(var)
        self.MODEL_DIR = os.environ.get("RECSYS_MODEL_DIR") or str(var / "models")
        self.TRAIN_CONFIG = os.environ.get("RECSYS_TRAIN_CONFIG") or str(
            Path(__file__).resolve().parent.parent / "data" / "train.yaml"
        )
        self.LOG_LEVEL = _log_level()
        self.MODEL_POLL_SECONDS = _env_int(
            "RECSYS_MODEL_POLL_SECONDS", 2, 1,
            " (0 would never pick up a promoted model, a rollback or a hidden song)")
        self.ADMIN_USERNAME = os.environ.get("RECSYS_ADMIN_USER", "admin")
        self.ADMIN_PASSWORD = os.environ.get("RECSYS_ADMIN_PASSWORD")
        self.ADMIN_SESSION_HOURS = _env_int("RECSYS_ADMIN_SESSION_HOURS", 12, 1)
        self.ADMIN_IDLE_MINUTES = _env_int("RECSYS_ADMIN_IDLE_MINUTES", 120, 1)
        # reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted
        self.TRUSTED_PROXIES = _env_int("RECSYS_TRUSTED_PROXIES", 0)
        # PostgreSQL: longest statement of a web request, lock waits included (0: no limit)
        self.DB_STATEMENT_TIMEOUT_MS = _env_int("RECSYS_DB_STATEMENT_TIMEOUT_MS", 5000)
        # PostgreSQL: a web request's database call still waiting after this long is cut off
        # client-side (a frozen server); default 2 s past the statement timeout (0: never)
        self.DB_CLIENT_TIMEOUT_SECONDS = _env_float(
            "RECSYS_DB_CLIENT_TIMEOUT_SECONDS",
            self.DB_STATEMENT_TIMEOUT_MS / 1000 + 2 if self.DB_STATEMENT_TIMEOUT_MS > 0 else 0)
        # PostgreSQL: database calls of web requests waiting at once per process (0: no cap);
        # `serve` sets the worker's threads minus one, so one thread always answers from the
        # model while the others wait for a slow or frozen database (recsys.db.breaker)
        self.DB_REQUEST_SLOTS = _env_int("RECSYS_DB_REQUEST_SLOTS", 0)
        secret = os.environ.get("SECRET_KEY")
        # Development only: a random per-process key (sessions do not survive a restart).
        # There is never a fixed fallback key; production refuses to start without one.
        self.SECRET_KEY = secret or secrets.token_hex(32)
        self.SECRET_KEY_FROM_ENV = bool(secret)

    def validate(self) -> None:
        """Raise ``RuntimeError`` when the configuration cannot be used."""

    def as_dict(self) -> dict:
        """All upper-case settings, for ``app.config.from_mapping``."""
        names = {n for n in dir(self) if n.isupper()}
        return {n: getattr(self, n) for n in names}


class TestConfig(Config):
    """Configuration for the test-suite: in-memory-free SQLite file given by the fixture."""

    ENV_NAME = "testing"
    TESTING = True

    def __init__(self, **overrides: object) -> None:
        super().__init__()
        self.MODEL_POLL_SECONDS = 0
        for key, value in overrides.items():
            setattr(self, key, value)


class ProductionConfig(Config):
    """Production: secrets must come from the environment, never debug."""

    ENV_NAME = "production"
    DEBUG = False

    def validate(self) -> None:
        missing = []
        if not self.SECRET_KEY_FROM_ENV:
            missing.append("SECRET_KEY")
        if not os.environ.get("DATABASE_URL"):
            missing.append("DATABASE_URL")
        if not self.ADMIN_PASSWORD:
            missing.append("RECSYS_ADMIN_PASSWORD")
        if missing:
            raise RuntimeError(
                "production configuration is missing required environment variables: "
                + ", ".join(missing)
            )
        if len(self.SECRET_KEY.strip()) < MIN_SECRET_KEY_CHARS:
            raise RuntimeError(f"SECRET_KEY must have at least {MIN_SECRET_KEY_CHARS} "
                               "characters (e.g. python -c 'import secrets; "
                               "print(secrets.token_urlsafe(32))')")
        if len(self.ADMIN_PASSWORD.strip()) < MIN_ADMIN_PASSWORD_CHARS:
            raise RuntimeError("RECSYS_ADMIN_PASSWORD must have at least "
                               f"{MIN_ADMIN_PASSWORD_CHARS} characters")
        if os.environ.get("FLASK_DEBUG", "").lower() in {"1", "true", "yes"}:
            raise RuntimeError("FLASK_DEBUG must not be enabled in production")
        statement_s, client_s = self.DB_STATEMENT_TIMEOUT_MS / 1000, self.DB_CLIENT_TIMEOUT_SECONDS
        if client_s > 0 and (statement_s <= 0 or client_s < statement_s + 1):
            # a slow query must get the server's own timeout, not trip the breaker that then
            # fails every database request of the worker for a while (recsys.db.breaker)
            raise RuntimeError(
                f"RECSYS_DB_CLIENT_TIMEOUT_SECONDS ({client_s:g}) must be at least 1 s more than "
                f"the statement timeout RECSYS_DB_STATEMENT_TIMEOUT_MS ({statement_s:g} s, and "
                "that must not be 0 while the client deadline is on): unset it for its default "
                "(statement timeout + 2 s), or set it to 0 to turn it off")


def config_from_env() -> Config:
    """Pick the configuration class named by ``RECSYS_ENV``."""
    name = os.environ.get("RECSYS_ENV", "development").lower()
    if name == "production":
        return ProductionConfig()
    if name in {"development", "dev"}:
        return Config()
    raise RuntimeError(f"RECSYS_ENV must be 'development' or 'production', got {name!r}")
