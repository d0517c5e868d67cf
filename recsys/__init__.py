"""playlist2vec: song recommendations from playlist embeddings."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from recsys.config import Config, config_from_env

__version__ = "0.1.0"


def create_app(config: Config | None = None) -> Flask:
    """Application factory: configuration, extensions, blueprints, error handlers, CLI."""
    cfg = config if config is not None else config_from_env()
    cfg.validate()
    if cfg.ENV_NAME == "production":
        _refuse_development_server()
    app = Flask(__name__)
    app.config.from_mapping(cfg.as_dict())
    if cfg.TRUSTED_PROXIES > 0:  # client address and scheme from the proxies' headers
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = cfg.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from recsys.logging_setup import configure_logging

    if not cfg.TESTING:  # tests keep pytest's own log capture
        configure_logging(cfg.LOG_LEVEL, str(Path(cfg.VAR_DIR) / "logs"))

    from recsys.extensions import CookieSessions, db

    app.session_interface = CookieSessions()
    db.init_app(app)

    from recsys.api import bp as api_bp
    from recsys.errors import register_error_routing

    app.register_blueprint(api_bp, url_prefix="/api")
    register_error_routing(app)

    from recsys.admin import bp as admin_bp  # also redirects / to /admin/

    app.register_blueprint(admin_bp, url_prefix="/admin")

    from recsys.api.deps import init_app as init_serving

    init_serving(app)

    from recsys.cli import register_commands

    register_commands(app)
    return app


def _refuse_development_server() -> None:
    """``flask --app wsgi run`` would serve production with werkzeug's development server
    (``recsys serve --dev`` is refused already); production is served by gunicorn."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.info_name == "run" and ctx.parent is not None:
        raise RuntimeError("production is served by gunicorn (`python -m recsys serve` or "
                           "`gunicorn wsgi:app`), not by `flask run`'s development server")
