"""Logging to stderr and to ``var/logs/recsys.log``."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, log_dir: str | None) -> None:
    """Configure the ``recsys`` logger once per process (idempotent)."""
    logger = logging.getLogger("recsys")
    logger.setLevel(level.upper())
    if getattr(logger, "_recsys_configured", False):
        return
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(stream)
    if log_dir:
        path = Path(log_dir)
        path.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path / "recsys.log", maxBytes=10_000_000, backupCount=5)
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    logger._recsys_configured = True  # type: ignore[attr-defined]
