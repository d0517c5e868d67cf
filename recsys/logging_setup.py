"""Logging to stderr and to ``var/logs/recsys.log``.

Every gunicorn worker, the nightly job and the CLI append to the same file, so it is not
rotated from inside (a process renaming the file under the others loses and scatters lines);
``WatchedFileHandler`` reopens it when an external ``logrotate`` has moved it. Lines carry
the process id. A record logged with ``extra={"printed": True}`` is a result line its
command also prints on stdout (an import's summary): it goes to the file, not to stderr, so
a terminal or a cron log that takes both streams shows it once.
"""

from __future__ import annotations

import logging
from logging.handlers import WatchedFileHandler
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def _not_printed(record: logging.LogRecord) -> bool:
    return not getattr(record, "printed", False)


def configure_logging(level: str, log_dir: str | None) -> None:
    """Configure the ``recsys`` logger once per process (idempotent)."""
    logger = logging.getLogger("recsys")
    logger.setLevel(level.upper())
    if getattr(logger, "_recsys_configured", False):
        return
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter(_FORMAT))
    stream.addFilter(_not_printed)
    logger.addHandler(stream)
    if log_dir:
        path = Path(log_dir)
        path.mkdir(parents=True, exist_ok=True)
        handler = WatchedFileHandler(path / "recsys.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    logger._recsys_configured = True  # type: ignore[attr-defined]
