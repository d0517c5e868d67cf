"""WSGI entry point: ``gunicorn wsgi:app``."""

from recsys import create_app

app = create_app()
