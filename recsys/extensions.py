"""Unbound Flask extensions; bound to an app in ``create_app``."""

from __future__ import annotations

from flask import Flask, g, has_request_context
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from recsys.db.session import bound_statements, make_engine, make_session_factory


class Database:
    """Engine per app, one session per request (closed at teardown)."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        bound_statements(engine, app.config.get("DB_STATEMENT_TIMEOUT_MS", 0),
                         has_request_context)
        app.extensions["recsys.db"] = (engine, make_session_factory(engine))
        app.teardown_appcontext(self._teardown)

    @staticmethod
    def _state(app: Flask | None = None) -> tuple[Engine, sessionmaker[Session]]:
        from flask import current_app

        return (app or current_app).extensions["recsys.db"]

    @property
    def engine(self) -> Engine:
        """Engine of the current app."""
        return self._state()[0]

    @property
    def session(self) -> Session:
        """Session of the current app context (created on first use)."""
        if "recsys_session" not in g:
            g.recsys_session = self._state()[1]()
        return g.recsys_session

    @staticmethod
    def _teardown(exc: BaseException | None) -> None:
        session = g.pop("recsys_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


db = Database()


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building a signer for requests with no cookie.

    Flask opens the session of every request, and its ``open_session`` first builds an
    ``itsdangerous`` serializer (which JSON-encodes a probe object); API clients send no
    session cookie, so that was pure overhead on every API call. Same behaviour otherwise.
    """

    def open_session(self, app, request):
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)
