"""Command-line arguments that are not UTF-8 (Python hands their bytes over as lone
surrogates) are one usage error of every command, and a night that fails on such a name is
still recorded."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recsys.cli import main
from recsys.db.models import TrainingRun
from recsys.db.session import session_scope
from recsys.ingest.model import IngestError
from recsys.jobs.nightly import ImportSpec, run_nightly

REPO = Path(__file__).resolve().parents[2]
BAD = "ok\udcffname.csv"  # what Python makes of the bytes b"ok\xffname.csv" in argv


@pytest.mark.parametrize(("args", "shown"), [
    (["import", "csv", BAD], "argument 'ok\\xffname.csv' is"),
    (["import", "csv", "--source", "\udcff", "ok.csv"], "argument '\\xff' (after --source)"),
    (["import", "jsonl", "--source=a\udcff", "ok.jsonl"], "argument '--source=a\\xff' is"),
    (["songs", "hide", "--source", "\udcff", "--external-id", "x"], "'\\xff' (after --source)"),
    (["evaluate", "--test", "ok.csv", "--source", "\udcff"], "'\\xff' (after --source)"),
    (["retrain", "--import", f"csv:{BAD}:src"], "'csv:ok\\xffname.csv:src' (after --import)"),
    (["import", "csv", "x\ud800.csv"], "'x\\ud800.csv' is not valid UTF-8 (a lone surrogate"),
])
def test_an_argument_that_is_not_utf8_is_a_usage_error(tmp_path, monkeypatch, args, shown):
    monkeypatch.setenv("RECSYS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert shown in result.output and "is not valid UTF-8" in result.output, result.output
    if "\udcff" in "".join(args):
        assert "(byte 0xff)" in result.output
    assert not (tmp_path / "var").exists()  # refused before any command ran


def test_the_real_command_line_is_checked_before_any_command(tmp_path):
    """Undecodable bytes in argv, end to end: exit 2 and one message, no traceback."""
    (tmp_path / "ok\udcffname.csv").write_text("playlist_id,position,song_id,title,artist\n"
                                              "p1,0,s1,Song,Artist\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "RECSYS_VAR_DIR": str(tmp_path / "var"), "LC_ALL": "C.UTF-8"}
    for args in ([b"import", b"csv", b"ok\xffname.csv"],
                 [b"retrain", b"--import", b"csv:ok\xffname.csv:src"]):
        out = subprocess.run([sys.executable, "-m", "recsys", *args], cwd=tmp_path,
                             env=env | {"PYTHONPATH": str(REPO)}, capture_output=True,
                             text=True, errors="backslashreplace", check=False, timeout=120)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "ok\\xffname.csv" in out.stderr and "is not valid UTF-8 (byte 0xff)" \
            in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and "Logging error" not in out.stderr


class _StrictUtf8(logging.Handler):
    """Encodes every line as UTF-8 like the log file's handler; remembers those it cannot."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record).encode("utf-8")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.failed.append(repr(record.msg))


def test_a_night_failing_on_an_undecodable_name_is_recorded(small_db, store, quick_settings,
                                                             tmp_path):
    good, bad = tmp_path / "good\udcff.csv", tmp_path / "bad\udcff.csv"
    good.write_text("playlist_id,position,song_id,title,artist\ng1,0,n1,New,Newcomer\n")
    bad.write_text("playlist_id,position,song_id,title,artist\np1,x,s1,Song,Artist\n")
    handler = _StrictUtf8()
    logging.getLogger("recsys").addHandler(handler)
    try:
        with pytest.raises(IngestError, match=r"bad\\udcff\.csv:2: position 'x'"):
            run_nightly(small_db, store, quick_settings, backend="exact", imports=[
                ImportSpec("csv", str(good), "src"), ImportSpec("csv", str(bad), "src")])
    finally:
        logging.getLogger("recsys").removeHandler(handler)
    assert handler.failed == []
    with session_scope(small_db) as session:
        (run,) = session.query(TrainingRun).all()
        assert run.status == "failed" and run.data_snapshot["stage"] == "import"
        assert f"stopped in the import of csv:{tmp_path}/bad\\udcff.csv" in run.error
        assert f"imports committed before it: csv:{tmp_path}/good\\udcff.csv" in run.error
        assert run.data_snapshot["failed_import"].endswith("bad\\udcff.csv")


def test_flask_app_cli_checks_arguments_too(make_app, sqlite_url, tmp_path, monkeypatch):
    """``flask --app wsgi import csv …`` parses with Flask's root group: the same check."""
    from flask.cli import FlaskGroup

    monkeypatch.chdir(tmp_path)
    app = make_app(sqlite_url)
    group = FlaskGroup(create_app=lambda: app, add_default_commands=False)
    for args in (["import", "csv", BAD], ["songs", "hide", "--source", "\udcff",
                                           "--external-id", "x"]):
        result = CliRunner().invoke(group, args)
        assert result.exit_code == 2, (result.output, result.exception)
        assert "is not valid UTF-8 (byte 0xff)" in result.output, result.output
