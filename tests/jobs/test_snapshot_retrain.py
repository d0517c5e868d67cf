"""``import … --snapshot`` and ``retrain --import … --snapshot`` through the CLI: what the
summary says, the refusal of a cut export (exit 1, nothing written), the usage errors, and a
nightly run that trains on the catalog after the snapshot's deletions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from recsys.jobs import nightly
from recsys.jobs.nightly import ImportSpec
from tests.jobs.test_cli import QUICK

HEADER = "playlist_id,position,song_id,title,artist\n"


def _csv(path, playlists: dict[str, list[str]]):
    path.write_text(HEADER + "".join(f"{pid},{i},{sid},T {sid},A {sid}\n"
                                     for pid, songs in playlists.items()
                                     for i, sid in enumerate(songs)), encoding="utf-8")
    return path


FEED = {f"f-{i}": [f"n{i}", f"n{i + 1}", f"n{i + 2}"] for i in range(6)}


@pytest.fixture
def engine_of(loaded):
    from recsys.db.session import make_engine

    engine = make_engine(loaded.config["DATABASE_URL"])
    yield engine
    engine.dispose()


def _playlists(engine, source: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(text("SELECT external_id FROM playlists WHERE source = :s"),
                                   {"s": source}).scalars())


def test_import_snapshot_through_the_cli(loaded, runner, engine_of, tmp_path):
    full = _csv(tmp_path / "full.csv", FEED)
    assert runner.invoke(args=["import", "csv", str(full), "--source", "feed"]).exit_code == 0
    cut = _csv(tmp_path / "cut.csv", dict(list(FEED.items())[:2]))
    refused = runner.invoke(args=["import", "csv", str(cut), "--source", "feed", "--snapshot"])
    assert refused.exit_code == 1
    assert (f"Error: {cut}: as a snapshot this file would delete 4 of the 6 playlists of "
            "source 'feed' (67%, more than the allowed 20%") in refused.output
    assert "import with --max-delete 67" in refused.output
    assert len(_playlists(engine_of, "feed")) == 6
    done = runner.invoke(args=["import", "csv", str(cut), "--source", "feed", "--snapshot",
                               "--max-delete", "67"])
    assert done.exit_code == 0, done.output
    assert "4 playlists deleted (not in the snapshot: 'f-2', 'f-3', 'f-4', ...; 12 items)" \
        in done.output
    assert _playlists(engine_of, "feed") == ["f-0", "f-1"]
    assert len(_playlists(engine_of, "sample")) == 600  # another source: untouched


def test_max_delete_needs_snapshot_and_a_number(runner, tmp_path):
    path = _csv(tmp_path / "x.csv", {"a": ["x"]})
    result = runner.invoke(args=["import", "csv", str(path), "--max-delete", "80"])
    assert result.exit_code == 2 and "--max-delete applies to --snapshot imports" in result.output
    for value in ("nan", "101", "-1"):
        result = runner.invoke(args=["import", "csv", str(path), "--snapshot",
                                     "--max-delete", value])
        assert result.exit_code == 2 and "--max-delete" in result.output, (value, result.output)


def test_the_library_refuses_a_bound_outside_0_1(engine, tmp_path):
    from recsys.ingest import import_csv

    path = _csv(tmp_path / "x.csv", {"a": ["x"]})
    import_csv(engine, path, "s", progress=False)
    for bound in (float("nan"), 1.5, -0.1):
        with pytest.raises(ValueError, match="max_delete must be a fraction from 0 to 1"):
            import_csv(engine, path, "s", progress=False, snapshot=True, max_delete=bound)


def test_retrain_snapshot_trains_on_what_is_left(loaded, runner, engine_of, tmp_path):
    retrain = ["retrain", *QUICK, "--backend", "exact", "--tolerance", "1"]
    first = runner.invoke(args=[*retrain, "--import", f"csv:{_csv(tmp_path / 'v1.csv', FEED)}"
                                                      ":feed"])
    assert first.exit_code == 0, first.output
    tonight = {k: v for k, v in FEED.items() if k != "f-5"}
    result = runner.invoke(args=[*retrain, "--snapshot", "--import",
                                 f"csv:{_csv(tmp_path / 'v2.csv', tonight)}:feed"])
    assert result.exit_code == 0, result.output
    assert "1 playlists deleted (not in the snapshot: 'f-5'; 3 items)" in result.output
    with engine_of.connect() as conn:
        snaps = conn.execute(text("SELECT data_snapshot FROM training_runs ORDER BY id")).all()
    counts = [s if isinstance(s, dict) else json.loads(s) for (s,) in snaps]
    assert [c["playlists"] for c in counts] == [606, 605]  # 600 sample playlists + the feed


def test_retrain_refuses_two_snapshots_of_one_source_before_importing(
        loaded, runner, engine_of, tmp_path):
    a = _csv(tmp_path / "a.csv", {"a-1": ["x1", "x2"]})
    b = _csv(tmp_path / "b.csv", {"b-1": ["x2", "x3"]})
    result = runner.invoke(args=["retrain", *QUICK, "--snapshot", "--import", f"csv:{a}",
                                 "--import", f"csv:{b}"])
    assert result.exit_code == 1
    assert (f"--import csv:{a} (--snapshot) and --import csv:{b} (--snapshot) are both "
            "snapshots of source 'custom'") in result.output
    assert _playlists(engine_of, "custom") == []
    with engine_of.connect() as conn:  # the refused night is on the dashboard as failed
        status, error = conn.execute(text(
            "SELECT status, error FROM training_runs ORDER BY id DESC")).first()
    assert status == "failed" and "are both snapshots of source 'custom'" in error
    assert error.startswith(f"nightly job stopped in the import of csv:{a} (--snapshot), "
                            f"csv:{b} (--snapshot), before training")
    alone = runner.invoke(args=["retrain", *QUICK, "--snapshot"])
    assert alone.exit_code == 2 and "--snapshot applies to the files of --import" in alone.output


def test_snapshot_specs_are_checked_before_importing():
    specs = [ImportSpec("csv", "a.csv", snapshot=True),
             ImportSpec("jsonl", "b.jsonl", "radio", snapshot=True), ImportSpec("csv", "c.csv")]
    nightly.check_snapshots(specs)  # sources custom and radio; c.csv is no snapshot
    with pytest.raises(ValueError, match="both snapshots of source 'radio'"):
        nightly.check_snapshots([*specs, ImportSpec("csv", "d.csv", " radio", snapshot=True)])
    with pytest.raises(ValueError, match="cannot be imported as a snapshot: its playlists are "
                                         "identified by their line number"):
        nightly.check_snapshots([ImportSpec("yes", "/data/yes_big", snapshot=True)])


def test_import_yes_offers_no_snapshot(runner, yes_dir):
    from recsys.ingest import IngestError, import_yes

    shown = runner.invoke(args=["import", "yes", "--help"]).output
    assert "--update" in shown and "--snapshot" not in shown
    tried = runner.invoke(args=["import", "yes", str(yes_dir), "--snapshot"])
    assert tried.exit_code == 2 and "A Yes.com directory cannot be imported as a snapshot: " \
        "its playlists are identified by their line number" in " ".join(tried.output.split())
    with pytest.raises(IngestError, match="cannot be imported as a snapshot"):
        import_yes(None, yes_dir, snapshot=True)


def test_the_job_s_log_line_counts_deleted_playlists():
    report = nightly.NightlyReport(version="v1", run_id=3, reason="first model")
    report.imports = [{"playlists_added": 4, "playlists_deleted": 120},
                      {"playlists_added": 1}]
    assert "2 import(s), 5 playlists added, 120 deleted;" in report.log_line()
    report.imports = [{"playlists_added": 4, "playlists_deleted": 0}]
    assert "1 import(s), 4 playlists added;" in report.log_line()


def test_import_dry_run_through_the_cli(loaded, runner, engine_of, tmp_path):
    full = _csv(tmp_path / "full.csv", FEED)
    preview = runner.invoke(args=["import", "csv", str(full), "--source", "feed", "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert preview.output.startswith(f"DRY RUN, rolled back, nothing written: imported {full} "
                                     "as source 'feed': 8 songs added")
    assert _playlists(engine_of, "feed") == []
    assert runner.invoke(args=["import", "csv", str(full), "--source", "feed"]).exit_code == 0
    cut = _csv(tmp_path / "cut.csv", dict(list(FEED.items())[:5]))
    shown = runner.invoke(args=["import", "csv", str(cut), "--source", "feed", "--snapshot",
                                "--dry-run"])
    assert shown.exit_code == 0 and "1 playlists deleted (not in the snapshot: 'f-5'" \
        in shown.output
    assert len(_playlists(engine_of, "feed")) == 6
    assert "--dry-run" in runner.invoke(args=["import", "yes", "--help"]).output
