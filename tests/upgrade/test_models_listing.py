"""``models`` after an upgrade lists bundles of both releases: names of the older code
(``20261128T042945Z-848d09``) and of the newer (microseconds, ``20261128T043943003069Z-5e4fcc``)
in one aligned table."""

from __future__ import annotations

from recsys.index.bundle import BundleWriter
from recsys.index.store import ModelStore

OLD, NEW = "20261128T042945Z-848d09", "20261128T043943003069Z-5e4fcc"


def test_models_table_is_aligned_for_old_and_new_names(app, runner):
    store = ModelStore(app.config["MODEL_DIR"])
    for version, created in ((OLD, "2026-11-28T04:31:19+00:00"),
                             (NEW, "2026-11-28T04:40:18+00:00")):
        writer = BundleWriter(store.versions_dir, version)
        writer.add_array("vectors", [[1.0, 2.0]])
        writer.commit({"created_at": created, "metrics": {"holdout_playlists": 5}})
    result = runner.invoke(args=["models"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "CREATED" in line or "2026-" in line]
    assert len(lines) == 3, result.output
    columns = {line.index("CREATED") if "CREATED" in line else line.index("2026-11-28T04")
               for line in lines}
    assert len(columns) == 1, result.output  # CREATED starts at one offset on every line
    assert all(f" {v} " in result.output for v in (OLD, NEW))
