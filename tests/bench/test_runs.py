"""Tiny real runs of the bench scripts that lean most on recsys internals, on synthetic data.

The point is that each script's code path still executes end to end (the figures of a run this
small mean nothing); assertions check what the run must produce whatever the timings: its
tables, its JSON, and the planted next-song signal of the synthetic sample (co-occurrence and
our blend far above popularity). Real Yes.com data is never needed: ``RECSYS_YES_DIR`` points
at the synthetic sample written in the Yes.com layout (``conftest.synthetic_yes``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.bench.conftest import BENCH, REPO, explain, run_bench, write_yes_dir


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, explain(proc)
    return proc.stdout


def _row(out: str, first_cell: str) -> list[str]:
    """The cells of the last Markdown table row whose first cell is ``first_cell``."""
    for line in reversed(out.splitlines()):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row {first_cell!r} in:\n{out[-2000:]}")


@pytest.fixture
def yes_env(synthetic_yes) -> dict[str, str]:
    return {"RECSYS_YES_DIR": str(synthetic_yes)}


def test_scale_eval(tmp_path):
    out = _ok(run_bench("scale_eval.py", "--items", "1500", "--seeds", "32", "--runs", "1"))
    assert "1,500 songs, 32 seeds" in out
    assert _row(out, "1,024 seeds a block (before)")[1]  # the child probe ran and reported


def test_ann_bench(tmp_path):
    _ok(run_bench("ann_bench.py", "--n", "1500", "--clusters", "15", "--queries", "20",
                  "--tune-queries", "10", "--n-trees", "2", "--hnsw-efc", "16",
                  "--metrics", "cosine", "--out", str(tmp_path)))
    backends = json.loads((tmp_path / "results.json").read_text())["metrics"]["cosine"]
    assert backends["exact"]["recall"] == 1.0 and 0 < backends["annoy"]["recall"] <= 1
    assert (tmp_path / "results.md").exists()


def test_import_speed(tmp_path, synthetic_yes):
    out = tmp_path / "import.md"
    _ok(run_bench("import_speed.py", "--data", str(synthetic_yes), "--subsets", "yes_small",
                  "--runs", "1", "--no-postgres", "--out", str(out)))
    items = sum(len(line.split()) for line in
                (synthetic_yes / "yes_small" / "train.txt").read_text().splitlines()[2:])
    assert f"| sqlite | yes_small | {items:,} |" in out.read_text()


def test_import_snapshot(synthetic_yes):
    out = _ok(run_bench("import_snapshot.py", "--data", str(synthetic_yes), "--runs", "1",
                        "--no-postgres"))
    assert re.search(r"cut export as a snapshot: 60 playlists deleted", out)  # 600 / --drop 10


def test_search_sqlite(yes_env):
    out = _ok(run_bench("search_sqlite.py", "--subset", "yes_small", "--repeat", "1",
                        env=yes_env))
    assert "yes_small: 640 songs" in out


def test_train_speed_imports_into_an_empty_database(tmp_path, yes_env):
    """A database left without the subset's playlists (a failed import) is imported again,
    not benchmarked empty."""
    work = tmp_path / "work"
    work.mkdir()
    from recsys.db import migrate

    migrate.upgrade(f"sqlite:///{work / 'yes_small.db'}")  # what a failed import leaves
    out = _ok(run_bench("train_speed.py", "--subset", "yes_small", "--epochs", "1", "--work",
                        str(work), "--out", str(tmp_path / "speed.json"), env=yes_env))
    assert re.search(r"yes_small: [1-9][\d,]* tokens x 1 epochs", out), out
    speeds = json.loads((tmp_path / "speed.json").read_text())["words_per_s"]
    assert set(speeds) == {"gensim_memory", "db_streamed", "db_corpus_file"}


def test_evaluate_yes(tmp_path, yes_env):
    out = tmp_path / "evaluate.json"
    _ok(run_bench("evaluate_yes.py", "--subset", "yes_small", "--seeds", "0", "--set",
                  "epochs=2", "--out", str(out), env=yes_env))
    hr = {row["method"]: row["hr@10"] for row in json.loads(out.read_text())["summary"]}
    assert hr["cooccurrence"] > 2 * hr["popularity"]  # the sample's planted next-song signal
    assert hr["p2v_next"] > 2 * hr["popularity"]


def test_tune_yes(tmp_path, yes_env):
    out = tmp_path / "tune.json"
    _ok(run_bench("tune_yes.py", "--subset", "yes_small", "--trials", "1", "--base",
                  "epochs=1", "--out", str(out), env=yes_env))
    written = json.loads(out.read_text())
    assert written["results"] and written["val_cooccurrence_hr@10"] > 0


@pytest.mark.parametrize("args", [
    ("next_variants.py", "--seed", "0", "--epochs", "1"),
    ("next_session_blend.py", "--seed", "0", "--transitions"),
    ("next_count_blend.py", "--seeds", "0"),
    ("next_count_blend.py", "--seeds", "0", "1", "--joint"),
], ids=lambda a: " ".join(a))
def test_next_research(args, yes_env):
    out = _ok(run_bench(*args, env=yes_env))
    assert out.count("\n|") >= 3 or "joint end" in out, out


def test_next_context(tmp_path, yes_env):
    out = _ok(run_bench("next_context.py", "--seeds", "0", "--out", str(tmp_path / "c.json"),
                        "--cache", str(tmp_path / "cache"), env=yes_env))
    # the single-seed table (the last): planted next songs, far above popularity
    ours, pop = _row(out, "ours"), _row(out, "popularity")
    assert float(ours[1]) > 2 * float(pop[1])


def test_next_local(yes_env):
    out = _ok(run_bench("next_local.py", "--seed", "0", "--epochs", "1", "--curve-w2v",
                        env=yes_env))
    assert "directed pairs" in out


def test_list_build(tmp_path):
    out = _ok(run_bench("list_build.py", "--songs", "600", "--playlists", "1200", "--seeds",
                        "10", "--work", str(tmp_path)))
    assert _row(out, "before")[0] == "before" and _row(out, "after")[1].startswith("exact")


def test_build_time(tmp_path):
    out = _ok(run_bench("build_time.py", "--songs", "600", "--playlists", "1200",
                        "--list-sample", "20", "--work", str(tmp_path)))
    assert "| next | early stop (after) |" in out
    assert _row(out, "all four")[2]  # the baselines, before and after
    same, of = _row(out, "next")[4].split(" / ")  # the lists table's
    assert same == of == "20"


def test_synthetic_bundle_builds_into_an_empty_store(tmp_path):
    """``http_bench.py --synthetic-songs`` on a new work dir: the store holds no version yet
    (``ModelStore.path`` raises for one it does not hold), built then reused."""
    code = ("import sys; from pathlib import Path; "
            f"sys.path[:0] = [{str(BENCH)!r}, {str(REPO)!r}]; "
            "from _http_setup import build_synthetic_bundle as b; "
            f"print(b(Path({str(tmp_path)!r}), 300, n_trees=2)); "
            f"print(b(Path({str(tmp_path)!r}), 300, n_trees=2))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.split() == ["synthetic-300-r95"] * 2, explain(proc)
    assert (tmp_path / "current").exists() or any(tmp_path.iterdir())


# --- a served model (import + train once), the in-process request benchmarks --------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A promoted model of synthetic yes_small built by ``session_latency.py`` (the project's
    own ``db upgrade``, ``import yes``, ``train --promote``)."""
    root = tmp_path_factory.mktemp("served")
    yes = write_yes_dir(root / "yes_small", 300, seed=1)
    var = root / "var"
    proc = run_bench("session_latency.py", "--yes-dir", str(yes), "--var-dir", str(var),
                     "--sessions", "20", "--rounds", "1", timeout=180)
    return {"proc": proc, "var": var, "yes": yes, "db": f"sqlite:///{var / 'recsys.db'}"}


def test_session_latency(served):
    out = _ok(served["proc"])
    assert _row(out, "1")[1] and _row(out, "10")[1]


def test_profile_similar_and_request_cpu(served):
    env = {"RECSYS_VAR_DIR": str(served["var"]), "DATABASE_URL": served["db"]}
    out = _ok(run_bench("profile_similar.py", "--requests", "20", env=env))
    assert "database connections checked out on the warm path: 0" in out
    out = _ok(run_bench("request_cpu.py", "--model-dir", str(served["var"] / "models"),
                        "--database-url", served["db"], "--requests", "20"))
    assert re.search(r"\d+ us CPU per request", out)


def test_external_ids(served, tmp_path):
    out = _ok(run_bench("external_ids.py", "--model-dir", str(served["var"] / "models"),
                        "--database-url", served["db"], "--requests", "20", "--rounds", "1",
                        "--seeds", "2", "--lookup-songs", "300", "--work-dir", str(tmp_path)))
    assert "median similar by id" in out and "look-up, 300 songs" in out


def test_gate_noise(served):
    out = _ok(run_bench("gate_noise.py", "--yes-dir", str(served["yes"]), "--var-dir",
                        str(served["var"]), "--repeats", "1", timeout=180))
    assert "| same settings, seed 43 |" in out and "| worse: next_transition_weight=0 |" in out


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def pg_database(pg_server, request) -> str:
    """A new empty database on the test server (not migrated)."""
    from sqlalchemy import text

    from recsys.db.session import make_engine

    name = re.sub(r"\W", "_", request.node.name.lower())[:40]
    admin = make_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return pg_server.url(name)


@pytest.mark.postgres
def test_search_pg_on_an_empty_database(pg_database):
    """The scratch database needs no ``db upgrade`` first: the script migrates it."""
    out = _ok(run_bench("search_pg.py", "--database-url", pg_database, "--songs", "2000"))
    assert _row(out, "`title`")[1] == "2,000"  # every synthetic song matches


@pytest.mark.postgres
def test_search_key_backfill(pg_database):
    out = _ok(run_bench("search_key_backfill.py", "--database-url", pg_database, "--songs",
                        "2000"))
    assert re.search(r"2,000 songs: upgrade 0006 -> 0007 [\d.]+ s", out)


def test_db_deadline_refuses_too_few_songs():
    proc = run_bench("db_deadline.py", "--database-url", "sqlite://", "--songs", "10")
    assert proc.returncode == 2 and "--songs must be at least 10,000" in proc.stderr


@pytest.mark.postgres
@pytest.mark.slow
def test_db_deadline(pg_database):
    out = _ok(run_bench("db_deadline.py", "--database-url", pg_database, "--songs", "10000",
                        "--requests", "25", "--rounds", "1"))
    assert re.search(r"search: \d+ guarded calls per request", out)


def test_eval_scale(tmp_path):
    out = _ok(run_bench("eval_scale.py", "--songs", "600", "--playlists", "1200",
                        "--work", str(tmp_path)))
    assert _row(out, "trained")[1] and _row(out, "bundle")[1]  # both timed and compared
    assert "| bundle | **all** |" in out and "| trained | continuation |" in out
    checks = [line.split("|")[4:6] for line in out.splitlines() if " of " in line]
    assert len(checks) == 8  # 4 kinds of queries x 2 models; every difference is a tie
    assert all(differ.strip() == explained.split(" of ")[0].strip()
               for differ, explained in checks)
