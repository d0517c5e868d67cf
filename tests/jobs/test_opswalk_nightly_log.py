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


def test_a_missing_path_holding_a_colon_is_named_with_the_source_it_was_split_into(
        sqlite_url, store, quick_settings, tmp_path):
    # `--import csv:/in:coming/day1.csv` for a file that is not there: the CLI reads PATH
    # /in and SOURCE coming/day1.csv; "/in: no such file" alone did not say why
    engine = make_engine(sqlite_url)
    spec = ImportSpec("csv", str(tmp_path / "in"), "coming/day1.csv")
    with pytest.raises(IngestError) as err:
        run_nightly(engine, store, quick_settings, imports=[spec])
    engine.dispose()
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'in'}: no such file")
    assert f"--import csv:{tmp_path / 'in'}:coming/day1.csv" in message
    assert "the source is what follows the last ':'" in message
