"""The synthetic sample: determinism, planted structure, CLI."""

from __future__ import annotations

from collections import Counter

import pytest

from recsys.ingest.sample import generate_sample
from tests.ingest.conftest import counts


@pytest.fixture(scope="module")
def data():
    return generate_sample(2000, seed=7)


def test_deterministic_per_seed():
    a, b = generate_sample(300, seed=1), generate_sample(300, seed=1)
    assert a.playlists == b.playlists and a.songs == b.songs
    assert generate_sample(300, seed=2).playlists != a.playlists
    assert generate_sample(100, seed=1).playlists == a.playlists[:100]  # prefix property


def test_catalog_shape(data):
    assert len(data.genres) == 8 and len(data.songs) == 8 * 10 * 8
    for song in data.songs:
        assert song.tags == (song.genre, song.mood)
        assert data.song_genre[song.external_id] == song.genre
    assert len({s.external_id for s in data.songs}) == len(data.songs)


def test_playlists_mostly_single_genre(data):
    multi = [p for p in data.playlists if len(p.songs) >= 2]
    pure = 0
    for pl in multi:
        top = Counter(data.song_genre[s] for s in pl.songs).most_common(1)[0][1]
        pure += top / len(pl.songs) >= 0.8
    assert pure / len(multi) > 0.75
    mixed = sum(len(p.genres) == 2 for p in data.playlists) / len(data.playlists)
    assert 0.05 < mixed < 0.3


def test_popularity_is_skewed(data):
    freq = Counter(s for p in data.playlists for s in p.songs)
    ranked = sorted(freq.values(), reverse=True)
    top_decile = sum(ranked[: len(data.songs) // 10])
    assert top_decile / sum(ranked) > 0.35


def test_length_distribution(data):
    lengths = [len(p.songs) for p in data.playlists]
    singles = sum(n == 1 for n in lengths) / len(lengths)
    assert 0.1 < singles < 0.35
    assert max(lengths) >= 25 and sorted(lengths)[len(lengths) // 2] >= 3


def test_next_song_has_signal(data):
    pairs = [(a, b) for p in data.playlists for a, b in zip(p.songs, p.songs[1:], strict=False)]
    hits = sum(b in data.successors[a] for a, b in pairs)
    assert hits / len(pairs) > 0.35  # random would be ~3/80


def test_rows_validate_through_the_loader(data):
    catalog = data.to_catalog()
    assert catalog.kind == "sample" and catalog.source == "sample"
    assert len(catalog.playlists) == 2000
    assert catalog.n_items == sum(len(p.songs) for p in data.playlists)


def test_cli_sample_import_idempotent_and_if_empty(runner, app_engine):
    result = runner.invoke(args=["sample", "--playlists", "200", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "200 playlists added" in result.output
    first = counts(app_engine)
    result = runner.invoke(args=["sample", "--playlists", "200", "--seed", "1"])
    assert "0 playlists added (200 already present)" in result.output
    result = runner.invoke(args=["sample", "--playlists", "300", "--seed", "1", "--if-empty"])
    assert result.exit_code == 0 and "sample skipped" in result.output
    assert counts(app_engine)["playlists"] == first["playlists"] == 200
    result = runner.invoke(args=["sample", "--playlists", "250", "--seed", "1"])
    assert "50 playlists added (200 already present)" in result.output


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_cli_sample_out_roundtrip(runner, app_engine, tmp_path, ext):
    out = tmp_path / f"sample.{ext}"
    result = runner.invoke(args=["sample", "--playlists", "60", "--seed", "4", "--out", str(out)])
    assert result.exit_code == 0 and out.exists(), result.output
    assert counts(app_engine)["playlists"] == 0
    result = runner.invoke(args=["import", ext, str(out), "--source", "sample"])
    assert result.exit_code == 0 and "60 playlists added" in result.output
    # the file holds exactly what `sample` imports: importing the sample now adds nothing
    result = runner.invoke(args=["sample", "--playlists", "60", "--seed", "4"])
    assert "0 songs added" in result.output and "0 playlists added" in result.output


def test_cli_sample_bad_out(runner, tmp_path):
    result = runner.invoke(args=["sample", "--playlists", "5", "--out", str(tmp_path / "x.txt")])
    assert result.exit_code == 1 and "must end with .csv or .jsonl" in result.output
