"""Logging to stderr and to ``var/logs/recsys.log``.

Every gunicorn worker, the nightly job and the CLI append to the same file, so it is not
rotated from inside (a process renaming the file under the others loses and scatters lines);
``WatchedFileHandler`` reopens it when an external ``logrotate`` has moved it. Lines carry
the process id. A record logged with ``extra={"printed": True}`` is a result line its
command also prints on stdout (an import's summary): it goes to the file, not to stderr, so
a terminal or a cron log that takes both streams shows it once. A log file that cannot be
opened (a read-only directory) or written (a full disk) is said once on stderr; commands and
servers go on, logging to stderr.
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import WatchedFileHandler
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def _not_printed(record: logging.LogRecord) -> bool:
    return not getattr(record, "printed", False)


class _LogFile(WatchedFileHandler):
    """The log file; a write that fails (a full disk) is said once on stderr, not with a
    traceback per record, until a write succeeds again."""

    _failing = False
    _failed_now = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        try:  # WatchedFileHandler's reopen (a moved file) raises out of emit: not its write
            super().emit(record)
        except Exception:
            self.handleError(record)
        if self._failing and not self._failed_now:
            self._failing = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self._failed_now = True
        if not self._failing:
            self._failing = True
            sys.stderr.write(f"recsys: cannot write the log file {self.baseFilename}: "
                             f"{sys.exc_info()[1]}; log lines go to stderr only until it "
                             "works again\n")


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
    logger._recsys_configured = True  # type: ignore[attr-defined]
    if log_dir:
        path = Path(log_dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
            handler = _LogFile(path / "recsys.log", encoding="utf-8")
        except OSError as exc:  # a read-only var dir must not stop every command and server
            logger.warning("cannot open the log file in %s (%s): logging to stderr only",
                           path, exc)
            return
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
