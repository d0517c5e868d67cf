from __future__ import annotations

import pytest

from recsys.ml.settings import TrainSettings, parse_overrides


def test_defaults_valid_and_roundtrip():
    s = TrainSettings()
    assert TrainSettings.from_dict(s.to_dict()) == s
    assert set(TrainSettings.field_names()) >= {
        "vector_size", "window", "negative", "ns_exponent", "sample", "epochs", "sg",
        "min_count", "alpha", "min_alpha", "seed", "workers"}


def test_overrides_coerce_types():
    got = parse_overrides(["window=3", "ns_exponent=-0.5", "sample=1e-5", "sg=0",
                           "use_corpus_file=false"])
    assert got == {"window": 3, "ns_exponent": -0.5, "sample": 1e-5, "sg": 0,
                   "use_corpus_file": False}
    assert isinstance(got["window"], int) and isinstance(got["sample"], float)
    assert TrainSettings().with_overrides(["epochs=7"]).epochs == 7


@pytest.mark.parametrize("bad", ["windw=3", "window", "window=abc", "sg=2", "window=0",
                                 "sample=1.5", "use_corpus_file=maybe", "epochs=2.5"])
def test_bad_overrides_raise(bad):
    with pytest.raises(ValueError):
        TrainSettings().with_overrides([bad])


def test_cooc_repeats_needs_whole_playlists():
    assert TrainSettings().with_overrides(["cooc_repeats=true"]).cooc_repeats is True
    with pytest.raises(ValueError, match="cooc_repeats applies to whole playlists"):
        TrainSettings().with_overrides(["cooc_repeats=true", "cooc_window=3"])


def test_unknown_key_message_lists_valid_keys():
    with pytest.raises(ValueError, match="unknown training setting.*vector_size"):
        TrainSettings.from_dict({"size": 10})


def test_yaml_loading(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("vector_size: 24\nwindow: 7  # comment\nns_exponent: -0.5\n")
    s = TrainSettings.from_yaml(path, overrides=["window=9"])
    assert (s.vector_size, s.window, s.ns_exponent) == (24, 9, -0.5)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        TrainSettings.from_yaml(path)
    path.write_text("bogus: 1\n")
    with pytest.raises(ValueError, match="bogus"):
        TrainSettings.from_yaml(path)


def test_committed_default_config_loads():
    from pathlib import Path

    cfg = Path(__file__).resolve().parents[2] / "data" / "train.yaml"
    if not cfg.exists():
        pytest.skip("data/train.yaml not written yet")
    TrainSettings.from_yaml(cfg)


@pytest.mark.parametrize(("bad", "message"), [
    ("epochs=9223372036854775808", "epochs must be <= 10,000"),  # killed gensim's workers
    ("workers=100000", "workers must be <= 256"),
    ("seed=4294967296", "seed must be <= 4,294,967,295"),
    ("vector_size=1000000", "vector_size must be <= 10,000"),
    ("next_pop_weight=inf", "next_pop_weight must be within [0, 10000]"),
    ("next_cooc_weight=nan", "next_cooc_weight must be within [0, 10000]"),
    ("next_w2v_weight=1e308", "next_w2v_weight must be within [0, 10000]"),  # NaN scores
])
def test_out_of_range_values_are_refused_before_training(bad, message):
    with pytest.raises(ValueError) as exc:
        TrainSettings().with_overrides([bad])
    assert message in str(exc.value)


def test_non_finite_and_non_string_keys_in_a_mapping_are_errors_not_crashes():
    with pytest.raises(ValueError, match="'epochs': cannot interpret inf as int"):
        TrainSettings.from_dict({"epochs": float("inf")})
    with pytest.raises(ValueError, match=r"unknown training setting\(s\): 1;"):
        TrainSettings.from_dict({1: 2})  # YAML `1: 2` (used to be a TypeError)
    upper = TrainSettings().with_overrides(["epochs=10000", "seed=4294967295", "workers=256"])
    assert (upper.epochs, upper.seed, upper.workers) == (10_000, 2**32 - 1, 256)
