"""Unbound Flask extensions; bound to an app in ``create_app``."""

from __future__ import annotations

import logging

from flask import Flask, g, has_request_context
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from recsys.db.deadline import client_deadline
from recsys.db.session import bound_statements, is_unavailable, make_engine, make_session_factory
from recsys.metrics import count_db_client_timeout

log = logging.getLogger("recsys.db")


class Database:
    """Engine per app, one session per request (closed at teardown)."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        bound_statements(engine, app.config.get("DB_STATEMENT_TIMEOUT_MS", 0),
                         has_request_context)
        client_deadline(engine, app.config.get("DB_CLIENT_TIMEOUT_SECONDS", 0),
                        has_request_context, on_fire=lambda: count_db_client_timeout(app),
                        slots=app.config.get("DB_REQUEST_SLOTS", 0))
        app.extensions["recsys.db"] = (engine, make_session_factory(engine))
        # closed as the request ends, while the client deadline still applies to its rollback;
        # then by the app context (CLI, jobs) if a session was opened outside a request
        app.teardown_request(self._teardown)
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
        if session is None:
            return
        try:
            try:
                if exc is not None:
                    session.rollback()
            finally:
                session.close()
        except Exception as error:  # the answer stands; SQLAlchemy discarded the connection
            if not is_unavailable(error):
                raise
            log.warning("database connection lost while ending a request: %s",
                        str(error).splitlines()[0][:300])


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
