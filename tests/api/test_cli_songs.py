"""``songs hide|unhide|hidden`` from the command line."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from recsys.cli_songs import songs_cmd
from recsys.db.session import make_engine
from tests.api.conftest import COLD_ALONE, FIRST


@pytest.fixture
def cli(api_app):
    runner = api_app.test_cli_runner()
    return lambda *args: runner.invoke(songs_cmd, [str(a) for a in args])


@pytest.fixture
def hidden(api_app):
    def read() -> set[int]:
        engine = make_engine(api_app.config["DATABASE_URL"])
        with engine.connect() as conn:
            ids = set(conn.execute(text("SELECT id FROM songs WHERE NOT available")).scalars())
        engine.dispose()
        return ids

    return read


def test_hide_and_unhide_by_catalog_id(cli, hidden):
    out = cli("hide", FIRST, FIRST + 1)
    assert out.exit_code == 0, out.output
    assert f"hid {FIRST} (planted:" in out.output
    assert "2 song(s) hidden, 0 already hidden; running servers apply it within" in out.output
    assert hidden() == {FIRST, FIRST + 1}
    out = cli("hide", FIRST + 1, FIRST + 2)
    assert f"already hidden: {FIRST + 1} " in out.output and f"hid {FIRST + 2} " in out.output
    assert "1 song(s) hidden, 1 already hidden" in out.output
    out = cli("unhide", FIRST, FIRST + 1, FIRST + 2, FIRST + 3)
    assert out.exit_code == 0 and "3 song(s) unhidden, 1 already visible" in out.output
    assert hidden() == set()


def test_hide_by_source_and_external_id(cli, hidden):
    out = cli("hide", "--source", "other", "--external-id", "x%_y")  # COLD_ALONE
    assert out.exit_code == 0, out.output
    assert hidden() == {COLD_ALONE} and "'Björk Ünïcode 100% Song'" in out.output
    out = cli("hidden")
    assert out.exit_code == 0 and out.output.splitlines()[0] == "1 hidden song(s)"
    assert f"  {COLD_ALONE} (other:x%_y " in out.output
    # ids pasted with spaces name the same song, as in imports and the API
    out = cli("unhide", "--source", " other ", "--external-id", " x%_y\t")
    assert out.exit_code == 0 and "1 song(s) unhidden" in out.output and hidden() == set()


@pytest.mark.parametrize("args", [
    ("hide", FIRST, 424242), ("hide", 2**31, FIRST), ("unhide", 0),
    ("hide", FIRST, "--source", "planted", "--external-id", "nope"),
    ("hide", "--source", "nope", "--external-id", "1000"),
])
def test_unknown_songs_are_an_error_and_change_nothing(cli, hidden, args):
    out = cli(*args)
    assert out.exit_code == 1
    assert "unknown song id(s): " in out.output and "(nothing changed)" in out.output
    assert hidden() == set()


@pytest.mark.parametrize(("args", "message"), [
    (("hide",), "name songs by catalog id"),
    (("hide", "--external-id", "1"), "--external-id needs --source"),
    (("hide", "--source", "planted"), "--source needs at least one --external-id"),
    (("hide", "abc"), "is not a valid integer"),
])
def test_usage_errors(cli, args, message):
    out = cli(*args)
    assert out.exit_code == 2 and message in out.output


def test_songs_are_a_subcommand_of_the_main_cli():
    from click.testing import CliRunner

    from recsys.cli import main

    out = CliRunner().invoke(main, ["songs", "--help"])
    assert out.exit_code == 0 and "hide" in out.output and "unhide" in out.output
