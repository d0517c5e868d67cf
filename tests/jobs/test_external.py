"""Evaluating on a playlist file that was never imported (``recsys evaluate --test``)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from recsys.ingest import IngestError, import_csv, import_yes
from recsys.ingest.sample import generate_sample
from recsys.jobs import data, external

from .test_cli import QUICK

YES_TINY = Path(__file__).resolve().parents[2] / "data" / "fixtures" / "yes_tiny"


@pytest.fixture
def yes_tiny(tmp_path) -> Path:
    return Path(shutil.copytree(YES_TINY, tmp_path / "yes_tiny"))


def _write_yes_playlists(path, n_songs, playlists):
    counts = [sum(p.count(i) for p in playlists) for i in range(n_songs)]
    header = " ".join(str(1000 + i) for i in range(n_songs)) + " \n"
    body = "".join(" ".join(map(str, p)) + " \n" for p in playlists)
    path.write_text(header + " ".join(map(str, counts)) + " \n" + body)


@pytest.mark.parametrize(("name", "fmt"), [("x.csv", "csv"), ("x.jsonl", "jsonl"),
                                           ("test.txt", "yes"), ("dir", "yes"),
                                           ("day.csv.gz", "csv"), ("day.jsonl.gz", "jsonl"),
                                           ("test.txt.gz", "yes")])
def test_guess_format(tmp_path, name, fmt):
    if name == "dir":
        (tmp_path / name).mkdir()
    assert external.guess_format(tmp_path / name) == fmt


def test_guess_format_refuses_unknown_names(tmp_path):
    with pytest.raises(IngestError, match="--test-format"):
        external.guess_format(tmp_path / "playlists.parquet")
    with pytest.raises(IngestError, match="--test-format"):
        external.guess_format(tmp_path / "playlists.gz")


def test_yes_playlist_file_maps_to_catalog_ids(engine, yes_tiny, tmp_path):
    import_yes(engine, yes_tiny, "tiny", progress=False)
    test_file = tmp_path / "held_out.txt"
    _write_yes_playlists(test_file, 6, [[1, 2, 4], [5, 0], [0, 1, 2]])
    training = data.load_playlists(engine, part="all")
    test = external.load_external(engine, test_file, "yes", "tiny", train=training)
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT external_id, id FROM songs")).tuples().all())
    # song 5 is in song_hash.txt, so in the catalog, though no training playlist plays it
    assert test.playlists == [[ids["1"], ids["2"], ids["4"]], [ids["5"], ids["0"]],
                              [ids["0"], ids["1"], ids["2"]]]
    assert (test.unknown_songs, test.unknown_items, test.n_items) == (0, 0, 8)
    assert test.duplicates == 1  # "0 1 2" is line 3 of the imported train.txt


def test_repeats_warn_only_beyond_the_training_datas_own_rate():
    train = [[1, 2], [1, 2], [3, 4], [5, 6], [7], [7]]  # one-song lists never count
    assert external.repeat_rate(train) == pytest.approx(2 / 4)
    held_out = external.ExternalTest("f", "s", [[9, 8]] * 7 + [[1, 2]] * 3, 20, 0, 0,
                                     duplicates=3, train_repeat_rate=0.5)
    assert not held_out.looks_imported()  # 30% repeats where training repeats itself at 50%
    imported = external.ExternalTest("f", "s", [[1, 2]] * 10, 20, 0, 0, duplicates=10,
                                     train_repeat_rate=0.02)
    assert imported.looks_imported() and "(100.0%; the training playlists" in imported.summary()


def test_a_yes_directory_and_jsonl_are_read_too(yes_tiny, tmp_path):
    records = external.read_playlist_records(yes_tiny, "yes", "tiny")
    assert [r.songs for r in records] == [["0", "1", "2"], ["3", "4"], ["2"], ["0", "1", "0", "3"]]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"playlist_id": "p", "position": 0, "song_id": "a"}\n'
                     '{"playlist_id": "p", "position": 1, "song_id": "b"}\n')
    assert [r.songs for r in external.read_playlist_records(jsonl, "jsonl", "x")] == [["a", "b"]]
    packed = tmp_path / "t.jsonl.gz"  # a compressed export, named as such
    packed.write_bytes(gzip.compress(jsonl.read_bytes()))
    fmt = external.guess_format(packed)
    assert [r.songs for r in external.read_playlist_records(packed, fmt, "x")] == [["a", "b"]]


def test_unknown_songs_get_distinct_negative_ids(engine, tmp_path):
    known = tmp_path / "known.csv"
    known.write_text("playlist_id,position,song_id,title,artist\n"
                     "k,0,a,A,X\nk,1,b,B,X\n")
    import_csv(engine, known, "shop", progress=False)
    test_file = tmp_path / "new.csv"
    test_file.write_text("playlist_id,position,song_id,title,artist\n"
                         "n1,0,a,A,X\nn1,1,zz,Z,Y\nn1,2,yy,Y,Y\nn2,0,zz,Z,Y\nn2,1,b,B,X\n")
    test = external.load_external(engine, test_file, "csv", "shop")
    (a, z1, y), (z2, b) = test.playlists
    assert a > 0 and b > 0 and z1 == z2 < 0 and y < 0 and y != z1
    assert (test.unknown_songs, test.unknown_items) == (2, 3)
    assert test.as_dict()["n_playlists"] == 2 and "playlists" not in test.as_dict()


def test_bad_test_file_reports_file_and_line(engine, yes_tiny, tmp_path):
    import_yes(engine, yes_tiny, "tiny", progress=False)
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3 \n1 1 1 \n0 1 \n0 9 \n")
    with pytest.raises(IngestError, match=r"bad\.txt:4: unknown song id 9"):
        external.load_external(engine, bad, "yes", "tiny")


def test_yes_test_file_with_stale_counts_only_warns(engine, yes_tiny, tmp_path, caplog):
    """A file cut from a bigger one without recounting line 2 is still evaluated on."""
    import_yes(engine, yes_tiny, "tiny", progress=False)
    cut = tmp_path / "cut.txt"
    cut.write_text("1 2 3 \n5 5 5 \n0 1 \n2 \n")
    test = external.load_external(engine, cut, "yes", "tiny")
    assert len(test.playlists) == 2
    assert "header says song 0 appears 5 times but the playlists contain it 1 times" in caplog.text
    assert "(3 songs differ)" in caplog.text
    with pytest.raises(IngestError, match="header says song 0 appears 5"):
        import_yes(engine, _with_train(yes_tiny, tmp_path, cut.read_text()), "t2",
                   progress=False)  # imports stay strict


def _with_train(yes_dir: Path, tmp_path: Path, text: str) -> Path:
    target = Path(shutil.copytree(yes_dir, tmp_path / "yes_cut"))
    (target / "song_hash.txt").write_text("0\tA\tX\n1\tB\tX\n2\tC\tY\n")
    (target / "tags.txt").write_text("#\n#\n#\n")
    (target / "train.txt").write_text(text)
    return target


def test_only_source(engine, yes_tiny, tmp_path):
    with pytest.raises(IngestError, match="sources none"):
        external.only_source(engine)
    import_yes(engine, yes_tiny, "tiny", progress=False)
    assert external.only_source(engine) == "tiny"
    other = tmp_path / "other.csv"
    other.write_text("playlist_id,position,song_id,title,artist\np,0,s,S,A\n")
    import_csv(engine, other, "other", progress=False)
    with pytest.raises(IngestError, match="sources other, tiny: give --source"):
        external.only_source(engine)


def test_cli_evaluate_on_a_file_never_imported(loaded, runner, tmp_path):
    later = generate_sample(800, 4)  # same catalog; playlists 600.. were never imported
    later.playlists = later.playlists[600:]
    test_file = tmp_path / "later.csv"
    later.write(test_file)
    out = tmp_path / "eval.json"
    result = runner.invoke(args=["evaluate", *QUICK, "--seeds", "0", "--test", str(test_file),
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "test: 200 playlists" in result.output and "| p2v_next |" in result.output
    doc = json.loads(out.read_text())
    n_transitions = sum(len(p.songs) - 1 for p in later.playlists)
    assert {r["n_queries"] for r in doc["runs"]} == {n_transitions}
    first = generate_sample(600, 4).playlists
    imported = {sid for p in first for sid in p.songs}
    new_songs = {sid for p in later.playlists for sid in p.songs} - imported
    assert doc["test"]["unknown_songs"] == len(new_songs) > 0  # songs only the file plays
    same = {tuple(p.songs) for p in first}
    repeats = sum(1 for p in later.playlists if len(p.songs) > 1 and tuple(p.songs) in same)
    assert doc["test"]["n_playlists"] == 200 and doc["test"]["duplicates"] == repeats
    natural = external.repeat_rate([p.songs for p in first])  # the sample repeats itself too
    warned = f"{repeats:,} test playlists ({repeats / 200:.1%}) are identical" in result.output
    assert warned == (repeats / 200 > 2 * natural + 0.01)
    by = {r["method"]: r for r in doc["summary"]}
    assert by["p2v_next"]["hr@10"] > by["popularity"]["hr@10"]  # the planted successors
    assert "next_hr_over_best_baseline" in doc["ratios"]


def test_cli_evaluate_warns_when_the_test_file_was_imported(loaded, runner, tmp_path):
    imported = generate_sample(600, 4)  # exactly what `loaded` imported
    imported.playlists = imported.playlists[:100]
    test_file = tmp_path / "imported.csv"
    imported.write(test_file)
    result = runner.invoke(args=["evaluate", *QUICK, "--seeds", "0", "--test", str(test_file)])
    assert result.exit_code == 0, result.output
    assert "are identical to training playlists" in result.output
    assert "was the file imported?" in result.output


def test_cli_evaluate_test_file_errors(app, runner, tmp_path):
    result = runner.invoke(args=["sample", "--playlists", "50", "--seed", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("playlist_id,position,song_id,title,artist\np,zero,s,S,A\n")
    result = runner.invoke(args=["evaluate", *QUICK, "--seeds", "0", "--test", str(bad)])
    assert result.exit_code != 0 and "bad.csv:2:" in result.output
    result = runner.invoke(args=["evaluate", *QUICK, "--test", str(tmp_path / "x.parquet")])
    assert result.exit_code != 0  # click: the path does not exist


def _split_yes_file(src: Path, head_dir: Path, tail_file: Path, frac: float = 0.8) -> tuple:
    """The real train.txt cut by line order into a subset directory and a test file."""
    lines = src.read_text().split("\n")[:-1]
    header, body = lines[0], lines[2:]
    cut = int(len(body) * frac)
    n_songs = len(header.split())
    for part, path in ((body[:cut], head_dir / "train.txt"), (body[cut:], tail_file)):
        counts = [0] * n_songs
        for line in part:
            for token in line.split():
                counts[int(token)] += 1
        path.write_text(f"{header}\n{' '.join(map(str, counts))} \n" + "\n".join(part) + "\n")
    return [[int(t) for t in line.split()] for line in body[:cut]], [
        [int(t) for t in line.split()] for line in body[cut:]]


@pytest.mark.slow
def test_cli_evaluate_real_yes_tail(app, runner, tmp_path, yes_dir):
    """yes_small cut by file order: the first 80% imported, the last 20% scored from the file."""
    head = tmp_path / "yes_small"
    head.mkdir()
    for name in ("song_hash.txt", "tags.txt", "tag_hash.txt"):
        shutil.copy(yes_dir / "yes_small" / name, head / name)
    tail = tmp_path / "tail.txt"
    first, last = _split_yes_file(yes_dir / "yes_small" / "train.txt", head, tail)
    assert runner.invoke(args=["import", "yes", str(head), "--no-progress"]).exit_code == 0
    out = tmp_path / "eval.json"
    result = runner.invoke(args=["evaluate", "--set", "epochs=2", "--set", "workers=2",
                                 "--seeds", "0", "--test", str(tail), "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert {r["n_queries"] for r in doc["runs"]} == {sum(len(p) - 1 for p in last)}
    seen = {tuple(p) for p in first if len(p) > 1}
    assert doc["test"]["duplicates"] == sum(1 for p in last if len(p) > 1 and tuple(p) in seen)
    assert doc["test"]["unknown_songs"] == 0  # song_hash.txt lists every song of the subset
    by = {r["method"]: r for r in doc["summary"]}
    assert by["cooccurrence"]["hr@10"] > 2 * by["popularity"]["hr@10"] > 0
