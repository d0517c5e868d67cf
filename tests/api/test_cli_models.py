"""``promote``, ``rollback``, ``models`` and ``serve --dev`` refusal from the command line."""

from __future__ import annotations

import json

import pytest

from recsys.cli_models import models_cmd, promote_cmd, rollback_cmd, serve_cmd


@pytest.fixture
def cli(api_app):
    runner = api_app.test_cli_runner()
    return lambda cmd, *args, **kw: runner.invoke(cmd, list(args), **kw)


def test_models_table_marks_current(cli):
    out = cli(models_cmd)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split()[:3] == ["VERSION", "CREATED", "METRICS"]
    v1 = next(line for line in lines if " v1 " in line)
    v2 = next(line for line in lines if " v2 " in line)
    assert v1.startswith("*") and not v2.startswith("*")
    assert "hr@10=0.5" in v1 and "hr@10=0.6" in v2


def test_promote_then_rollback(cli, model_store):
    assert cli(promote_cmd, "v1").exit_code == 0
    out = cli(promote_cmd, "v2")
    assert out.exit_code == 0 and "current model: v2 (was v1)" in out.output
    assert model_store.current_version() == "v2"
    rows = json.loads(cli(models_cmd, "--json").output)
    assert [r["version"] for r in rows if r["current"]] == ["v2"]
    out = cli(rollback_cmd)
    assert out.exit_code == 0 and "v1" in out.output
    assert model_store.current_version() == "v1"


@pytest.mark.parametrize(("version", "message"), [
    ("v9", "unknown model version"), ("../etc", "invalid model version"),
    ("", "invalid model version")])
def test_promote_unknown_version_fails_cleanly(cli, model_store, version, message):
    out = cli(promote_cmd, version)
    assert out.exit_code == 1 and message in out.output
    assert model_store.current_version() == "v1"


def test_promote_corrupt_version_is_refused(cli, model_store):
    (model_store.path("v2") / "out_vectors.npy").write_bytes(b"corrupt")
    out = cli(promote_cmd, "v2")
    assert out.exit_code == 1 and "checksum mismatch" in out.output
    assert model_store.current_version() == "v1"


def test_models_verify_names_a_truncated_bundle(cli, model_store):
    assert cli(models_cmd, "--verify").output.endswith("verified 2 bundle(s): all intact\n")
    path = model_store.path("v2") / "out_vectors.npy"
    path.write_bytes(path.read_bytes()[:-10])  # a disk that filled up, a bad copy
    assert "checksum" not in cli(models_cmd).output  # the quick listing reads manifests only
    out = cli(models_cmd, "--verify")
    assert out.exit_code == 1, out.output
    assert "checksum mismatch for out_vectors.npy" in out.output
    assert "verified 2 bundle(s): 1 broken: v2" in out.output


def test_rollback_without_history_fails_cleanly(cli):
    out = cli(rollback_cmd)
    assert out.exit_code == 1 and "nothing to roll back" in out.output


def test_models_when_store_is_empty(build_app):
    app = build_app(current=None)
    import shutil

    shutil.rmtree(app.config["MODEL_DIR"])
    out = app.test_cli_runner().invoke(models_cmd, [])
    assert out.exit_code == 0 and "no model versions" in out.output


def test_serve_dev_is_refused_in_production(cli):
    out = cli(serve_cmd, "--dev", env={"RECSYS_ENV": "production"})
    assert out.exit_code == 1 and "refused" in out.output


def test_promoting_the_current_version_changes_nothing(cli, model_store):
    out = cli(promote_cmd, "v1")
    assert out.exit_code == 0 and "already current; nothing done" in out.output
    assert cli(promote_cmd, "v2").exit_code == 0
    assert "(rolled back)" in cli(rollback_cmd).output  # to v1, current before any event
    assert model_store.current_version() == "v1"
    out = cli(rollback_cmd)
    assert out.exit_code == 1 and "nothing to roll back" in out.output


def test_prune_keeps_the_newest_the_current_and_the_rollback_target(cli, model_store):
    import shutil

    for name in ("v3", "v4", "v5"):
        shutil.copytree(model_store.path("v2"), model_store.versions_dir / name)
    assert cli(promote_cmd, "v3").exit_code == 0  # history: v1 -> v3; rollback target v1
    out = cli(models_cmd, "prune", "--keep", "1", "--dry-run")
    assert out.exit_code == 0 and "would delete 2 bundle(s): v2, v4" in out.output
    assert "would keep 3: the 1 newest plus the current version and the rollback" in out.output
    assert len(model_store.versions()) == 5
    out = cli(models_cmd, "prune", "--keep", "1")
    assert out.exit_code == 0 and "deleted 2 bundle(s)" in out.output
    assert model_store.versions() == ["v1", "v3", "v5"]
    assert not [p for p in model_store.versions_dir.iterdir() if p.name.startswith(".")]
    assert "(rolled back)" in cli(rollback_cmd).output and model_store.current_version() == "v1"
    assert cli(models_cmd, "prune", "--keep", "0").exit_code == 2  # refused by the option
