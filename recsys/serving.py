"""Production serving with gunicorn (``python -m recsys serve``) and the dev server.

Choices (see ``gunicorn_options``):

* ``gthread`` workers, default ``2 * cores`` processes x 4 threads. Requests are short and
  CPU-bound (ANN query + JSON) with an occasional database look-up (cold start, songs
  search), so a few threads per process hide the database waits while processes use the
  cores. (4 x 1, 4 x 2 and 4 x 4 were within run-to-run noise of each other on 2 shared
  cores, 4 x 4 lowest in CPU per request: docs/benchmarks-http.md.)
  Model arrays and indexes are memory-mapped: every worker shares the same pages, so
  extra workers cost little memory.
* The app is not preloaded in the master: each worker builds its app after the fork (no
  database connection or model file handle is shared across processes) and
  ``post_worker_init`` warms the model, so the first request does not pay for loading. The
  app's *code* is imported by the master (``import_app_code``): a restarted worker runs the
  release its siblings run, whatever is on disk by then.
* ``timeout`` 60 s (loading and verifying a large bundle happens at worker start),
  ``graceful_timeout`` 30 s: on SIGTERM workers finish their in-flight requests.
* The master's pid in ``var/run/serve-<port>.pid`` (removed on exit).
* Access log to ``var/logs/access.log`` (``access_logger_class``: same lines, ~20 us less
  CPU per request than gunicorn's generic atoms); errors to stderr.
* One BLAS thread per worker thread (``OPENBLAS_NUM_THREADS=1`` etc., unless set): the
  workers' threads already use every core; BLAS thread pools on top oversubscribe them
  (measured: gensim ``most_similar`` 6x slower with OpenBLAS's default pool under load).
* Prometheus multi-process mode: ``PROMETHEUS_MULTIPROC_DIR=var/prometheus/<master pid>`` is
  set (and emptied) before any worker starts; dead workers are marked so live gauges stay right.

A newly promoted model needs no restart: each worker's ``ModelHolder`` polls ``current`` every
``RECSYS_MODEL_POLL_SECONDS`` and swaps in the new version once it is loaded, and writes the
version it serves to ``<model dir>/workers/`` for the dashboard (``recsys.recommend.beacon``).
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("recsys.serving")

DEFAULT_THREADS = 4
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
ACCESS_LOG_FORMAT = '%(t)s %(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


def default_workers() -> int:
    """``2 * cores`` worker processes."""
    return 2 * (os.cpu_count() or 1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_pidfile(path: str | Path) -> bool:
    """Remove ``path`` when it names no running recsys server (left by a killed master whose
    pid may now belong to another process); True if removed. gunicorn refuses to start while
    a live server's pidfile exists."""
    path = Path(path)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and _alive(pid) and _is_recsys(pid):
        return False
    if path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)
        log.warning("removed the stale pid file %s (pid %s is not a running server)", path, pid)
        return True
    return False


def _is_recsys(pid: int) -> bool:
    try:
        return b"recsys" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no /proc (or no access): assume it is, as gunicorn would
        return True


def prepare_metrics_dir(var_dir: str | Path) -> Path:
    """Create an empty ``var/prometheus/<pid>`` and export it as ``PROMETHEUS_MULTIPROC_DIR``.

    One directory per server: starting a second one (or one that then fails to bind) must not
    delete the files of a server that is running. Directories of dead servers are removed.
    """
    base = Path(var_dir) / "prometheus"
    base.mkdir(parents=True, exist_ok=True)
    for old in base.iterdir():
        if old.is_dir() and old.name.isdigit() and not _alive(int(old.name)):
            shutil.rmtree(old, ignore_errors=True)
    path = base / str(os.getpid())
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def _post_worker_init(worker) -> None:
    from recsys.api.deps import holder, warm
    from recsys.recommend.beacon import Beacon, workers_dir

    model = warm(worker.wsgi)
    served = holder(worker.wsgi)
    served.beacon = Beacon(workers_dir(served.store.root))  # the dashboard lists every worker
    served.watch()  # idle workers pick up promotions too
    worker.log.info("worker %s ready (model %s)", worker.pid,
                    model.version if model is not None else "none")


def _worker_exit(_server, worker) -> None:
    from recsys.api.deps import holder

    app = getattr(worker, "wsgi", None)
    if app is None:  # the worker failed to build its app: nothing to stop
        return
    served = holder(app)
    served.stop(wait_s=5)  # a check in progress must not write the file again after removal
    if served.beacon is not None:  # a clean exit: the dashboard stops listing the worker
        served.beacon.remove()


def _child_exit(_server, worker) -> None:
    # runs in the master's SIGCHLD handling: import nothing here (``serve`` did already)
    multiprocess = sys.modules.get("prometheus_client.multiprocess")
    if multiprocess is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def _when_ready(server) -> None:
    server.log.info("recsys listening on %s with %d workers",
                    ", ".join(map(str, server.LISTENERS)), server.num_workers)


def access_logger_class():
    """gunicorn's ``Logger`` with a cheaper ``atoms`` for our access-log format.

    gunicorn builds every atom of every log format for each request (a dict of all request
    and response headers, a ``strftime``, ``getpid``): ~50 us of CPU per request, a tenth of a
    whole ``/similar`` call. With our format only its six atoms are computed; any other
    format gets gunicorn's own ``atoms``. The lines written are the same (with the time).
    """
    from gunicorn.glogging import Logger

    class AccessLogger(Logger):
        def atoms(self, resp, req, environ, request_time):
            if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
                return super().atoms(resp, req, environ, request_time)
            status = resp.status
            if isinstance(status, str):
                status = status.split(None, 1)[0]
            sent = getattr(resp, "sent", None)
            return {
                "t": time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
                "h": environ.get("REMOTE_ADDR", "-"),
                "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} "
                     f"{environ['SERVER_PROTOCOL']}",
                "s": status,
                "b": sent is not None and str(sent) or "-",
                "M": request_time.seconds * 1000 + int(request_time.microseconds / 1000),
                "a": environ.get("HTTP_USER_AGENT", "-"),
            }

    return AccessLogger


def gunicorn_options(host: str, port: int, workers: int | None, threads: int,
                     var_dir: str | Path, timeout: int = 60) -> dict[str, Any]:
    """The gunicorn settings of ``serve``."""
    logs, run = Path(var_dir) / "logs", Path(var_dir) / "run"
    logs.mkdir(parents=True, exist_ok=True)
    run.mkdir(parents=True, exist_ok=True)
    return {
        "bind": f"{host}:{port}",
        "workers": workers or default_workers(),
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 30,
        "keepalive": 5,
        # gunicorn's maximum (default 4094): GET .../similar?exclude= documents up to 1000
        # ids; longer request lines get gunicorn's HTML 400 before the app sees them
        "limit_request_line": 8190,
        "preload_app": False,
        "accesslog": str(logs / "access.log"),
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": access_logger_class(),
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "recsys",
        # the master's pid, for logrotate (USR1: reopen the access log) and service managers
        "pidfile": str(run / f"serve-{port}.pid"),
        "post_worker_init": _post_worker_init,
        "worker_exit": _worker_exit,
        "child_exit": _child_exit,
        "when_ready": _when_ready,
    }


def run_gunicorn(options: dict[str, Any]) -> None:
    """Run gunicorn in this process with ``options`` until it is stopped."""
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from recsys import create_app

            return create_app()

    _App().run()


def serve(host: str, port: int, workers: int | None = None,
          threads: int = DEFAULT_THREADS) -> None:
    """Serve the API with gunicorn (configuration from the environment)."""
    from recsys.config import config_from_env
    from recsys.db.migrate import check_schema

    cfg = config_from_env()
    cfg.validate()  # fail here, not in every worker
    check_schema(cfg.DATABASE_URL)
    if not cfg.SECRET_KEY_FROM_ENV:  # development (production refused above): one random
        # key for every worker, or each signs its own and a login works on one worker in N
        os.environ["SECRET_KEY"] = cfg.SECRET_KEY
        log.warning("SECRET_KEY is not set: a random session key for this server's workers "
                    "(logins end when it restarts; set SECRET_KEY to keep them)")
    for var in BLAS_THREAD_VARS:  # read by numpy when a worker imports it, after the fork
        os.environ.setdefault(var, "1")
    # each worker's requests wait for the database on at most threads - 1 threads at once
    os.environ.setdefault("RECSYS_DB_REQUEST_SLOTS", str(max(1, threads - 1)))
    prepare_metrics_dir(cfg.VAR_DIR)
    import prometheus_client.multiprocess  # noqa: F401  (for _child_exit, after the env var)

    import_app_code()

    options = gunicorn_options(host, port, workers, threads, cfg.VAR_DIR)
    clear_stale_pidfile(options["pidfile"])
    try:
        run_gunicorn(options)
    finally:  # gunicorn leaves its pid file when it cannot bind the port
        _remove_own_pidfile(options["pidfile"])


#: The app's modules (``create_app``, its requests, every index backend a bundle may use).
APP_MODULES = ("recsys.api.routes", "recsys.api.deps", "recsys.admin", "recsys.cli",
               "recsys.errors", "recsys.extensions", "recsys.logging_setup", "recsys.recommend",
               "recsys.index", "recsys.index.annoy_index", "recsys.index.exact",
               "recsys.index.hnsw_index")


def import_app_code() -> None:
    """Import the app's code in the master (not the app: no database engine, model or log
    file is created before the fork), after the BLAS variables are set.

    A worker that restarts later (crashed, killed, ``max_requests``) forks from the master
    with this code already imported: it runs the same release as its siblings even when the
    files on disk changed meanwhile (an upgrade installed over the running one, half-copied),
    and gunicorn halts the whole server when a new worker cannot build its app.
    """
    for name in APP_MODULES:
        importlib.import_module(name)


def _remove_own_pidfile(path: str | Path) -> None:
    """Remove ``path`` if it still names this process (gunicorn's master)."""
    path = Path(path)
    try:
        if int(path.read_text().strip()) == os.getpid():
            path.unlink(missing_ok=True)
    except (OSError, ValueError):
        pass


def serve_dev(host: str, port: int) -> None:
    """Flask's development server (threaded, never debug); refused in production."""
    if os.environ.get("RECSYS_ENV", "").lower() == "production":
        raise RuntimeError("--dev is refused when RECSYS_ENV=production; use gunicorn")
    from recsys import create_app
    from recsys.api.deps import holder, warm
    from recsys.db.migrate import check_schema

    app = create_app()
    check_schema(app.config["DATABASE_URL"])
    warm(app)
    holder(app).watch()  # promotions and hidden songs apply without a request, as in gunicorn
    app.run(host=host, port=port, debug=False, threaded=True, use_reloader=False)
