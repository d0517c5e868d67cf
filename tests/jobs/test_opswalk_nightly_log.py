"""Found by an operator walk: the nightly job's start line named each import as
``csv:PATH`` only, so ``retrain.log`` could not tell which source a file went to nor whether
``--update`` applied it."""

from __future__ import annotations

import logging

import pytest

from recsys.db.session import make_engine
from recsys.ingest.model import IngestError
from recsys.jobs.nightly import ImportSpec, run_nightly


def test_the_start_line_names_each_imports_source_and_update(sqlite_url, store, quick_settings,
                                                            tmp_path, caplog):
    engine = make_engine(sqlite_url)
    missing = tmp_path / "in:coming" / "day1.csv"  # fails at once: no training
    imports = [ImportSpec("csv", str(missing), "radio", update=True),
               ImportSpec("jsonl", str(missing))]
    with caplog.at_level(logging.INFO, logger="recsys.jobs"), pytest.raises(IngestError):
        run_nightly(engine, store, quick_settings, imports=imports)
    engine.dispose()
    started = [r.getMessage() for r in caplog.records if "nightly run started" in r.getMessage()]
    assert started == [f"nightly run started: imports ['csv:{missing}:radio (--update)', "
                       f"'jsonl:{missing}'], dry_run=False"]
