"""Numbers and config files the training commands refuse up front (usage errors, one line)."""

from __future__ import annotations

import json
import math

import pytest

from recsys.db.base import finite_json
from recsys.ingest.sample import generate_sample

from .test_cli import QUICK


@pytest.mark.parametrize("args", [
    ["retrain", "--holdout", "nan"], ["retrain", "--tolerance", "nan"],
    ["retrain", "--noise-z", "nan"], ["train", "--holdout", "nan"],
    ["train", "--holdout", "-nan"], ["evaluate", "--seeds", "-1"],
    ["evaluate", "--seeds", "0,99999999999999999999"], ["evaluate", "--seeds", "4294967296"],
    ["backup", "var/unused-backup", "--wait", "nan"],  # nan waited for ever for the job lock
])
def test_non_finite_or_out_of_range_options_are_usage_errors(loaded, runner, args):
    """click's FloatRange lets nan through: `--holdout nan` trained and wrote a bundle before
    failing; a seed numpy cannot take failed after loading every playlist."""
    result = runner.invoke(args=args)
    assert result.exit_code == 2, result.output
    assert "not a finite number" in result.output or "seeds must be within 0..4294967295" in (
        result.output), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_settings_out_of_range_fail_before_training(loaded, runner):
    result = runner.invoke(args=["train", "--set", "epochs=9223372036854775808"])
    assert result.exit_code == 1 and "epochs must be <= 10,000" in result.output, result.output


def test_unreadable_or_too_deep_config_files_are_one_line_errors(loaded, runner, tmp_path):
    config = loaded.config["TRAIN_CONFIG"]
    loaded.config["TRAIN_CONFIG"] = str(tmp_path)  # RECSYS_TRAIN_CONFIG naming a directory
    result = runner.invoke(args=["train"])
    assert result.exit_code == 1
    assert f"{tmp_path}: cannot read the training config" in result.output, result.output
    loaded.config["TRAIN_CONFIG"] = config
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 10_000 + "]" * 10_000 + "\n")
    for args in (["train", "--config", str(deep)], ["tune", "--space", str(deep)]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert f"{deep}: invalid YAML: nested too deeply" in result.output, result.output
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("# caf\u00e9\nepochs: 3\n".encode("latin-1"))
    result = runner.invoke(args=["train", "--config", str(latin)])
    assert result.exit_code == 1 and f"{latin}: invalid YAML: not UTF-8 text" in result.output
    keys = tmp_path / "keys.yaml"
    keys.write_text("1: 2\n")
    result = runner.invoke(args=["train", "--config", str(keys)])
    assert result.exit_code == 1 and "unknown training setting(s): 1;" in result.output


def test_evaluate_refuses_a_test_file_with_nothing_to_score(loaded, runner, tmp_path):
    """Every song unknown to the catalog: it used to print a table of zeros and exit 0."""
    other = generate_sample(20, 99)
    test_file = tmp_path / "other.csv"
    other.write(test_file)
    rows = test_file.read_text().splitlines()
    header, body = rows[0], rows[1:]
    col = header.split(",").index("song_id")
    renamed = [",".join(f"x{v}" if i == col else v for i, v in enumerate(r.split(",")))
               for r in body]
    test_file.write_text("\n".join([header, *renamed]) + "\n")
    out = tmp_path / "ev.json"
    result = runner.invoke(args=["evaluate", *QUICK, "--seeds", "0", "--test", str(test_file),
                                 "--json", str(out)])
    assert result.exit_code == 1, result.output
    assert f"{test_file}: nothing to score" in result.output and not out.exists()


def test_json_output_holds_null_for_non_finite_numbers():
    doc = {"ratio": math.nan, "rows": [{"hr": 0.1, "x": math.inf}], "n": 3, "t": (1.0, -math.inf)}
    text = json.dumps(finite_json(doc), allow_nan=False)  # raises on a bare NaN
    assert json.loads(text) == {"ratio": None, "rows": [{"hr": 0.1, "x": None}], "n": 3,
                                "t": [1.0, None]}


def test_an_unknown_import_kind_is_a_usage_error_and_records_nothing(loaded, runner):
    """It used to exit 1 and be recorded as a failed night, which the dashboard then showed."""
    from sqlalchemy import func, select

    from recsys.db.models import TrainingRun
    from recsys.extensions import db

    result = runner.invoke(args=["retrain", "--import", "foo:/x"])
    assert result.exit_code == 2, result.output
    assert "unknown import kind 'foo' in 'foo:/x'; expected yes, csv, jsonl" in result.output
    with loaded.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrainingRun)) == 0


@pytest.mark.parametrize(("playlist", "scorable"), [
    ([1, 2], True), ([-1, 2, 3], True), ([1, -1, 2], True),  # continuation: known last song
    ([1, -1], False), ([-1, 1], False), ([1], False), ([-1, -2, -3], False), ([1, -1, -2], False),
])
def test_a_test_playlist_is_scorable_when_some_query_has_known_songs(playlist, scorable):
    from recsys.cli_train import _scorable

    assert _scorable(playlist) is scorable
