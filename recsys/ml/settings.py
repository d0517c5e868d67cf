"""Training settings: one dataclass exposing every word2vec knob plus the ``next`` blend."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import yaml

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}
#: Upper bounds of the integer settings: far above any useful value, and below what gensim's
#: C code (C longs, 32-bit seeds) or the machine can take (an epochs of 2**63 killed gensim's
#: workers and left the job waiting on them for ever).
INT_MAX = {"vector_size": 10_000, "window": 10_000, "negative": 1_000, "epochs": 10_000,
           "min_count": 2**31 - 1, "workers": 256, "seed": 2**32 - 1, "cooc_window": 10_000}
#: Upper bound of the ``next_*`` weights (a weight of 1e308 overflowed the scores to NaN).
WEIGHT_MAX = 1e4


@dataclass(frozen=True)
class TrainSettings:
    """Every Word2Vec setting plus the weights of the ``next`` scorer.

    Word2vec fields map 1:1 onto :class:`gensim.models.Word2Vec` arguments
    (``epochs``, ``sg``, ``hs`` fixed to 0 because output vectors are ``syn1neg``).
    ``next_*`` fields configure :class:`recsys.ml.scoring.W2VNext`:
    ``score = next_w2v_weight * in[seed].out[cand] + next_transition_weight *
    log1p(transitions[seed, cand]) + next_cooc_weight * log1p(cooc[seed, cand])
    + next_pop_weight * log(count[cand])``. ``cooc`` counts the playlists holding both songs
    (``cooc_window`` 0), pairs within ``cooc_window`` songs, or, with ``cooc_repeats``, the
    pairs of plays in whole playlists (``sum_p n_p(seed) * n_p(cand)``).
    """

    vector_size: int = 64
    window: int = 5
    negative: int = 20
    ns_exponent: float = 0.75
    sample: float = 1e-3
    epochs: int = 20
    sg: int = 1
    min_count: int = 1
    alpha: float = 0.025
    min_alpha: float = 0.0001
    seed: int = 42
    workers: int = 2
    use_corpus_file: bool = True
    next_w2v_weight: float = 1.0
    next_transition_weight: float = 0.0
    next_cooc_weight: float = 0.0
    next_pop_weight: float = 0.0
    cooc_window: int = 0
    cooc_repeats: bool = False

    def __post_init__(self) -> None:
        errors = []
        positive_ints = ("vector_size", "window", "negative", "epochs", "min_count", "workers")
        for name in positive_ints:
            if getattr(self, name) < 1:
                errors.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name, most in INT_MAX.items():
            if getattr(self, name) > most:
                errors.append(f"{name} must be <= {most:,}, got {getattr(self, name)}")
        if self.sg not in (0, 1):
            errors.append(f"sg must be 0 (cbow) or 1 (skip-gram), got {self.sg}")
        if not -5.0 <= self.ns_exponent <= 5.0:
            errors.append(f"ns_exponent must be within [-5, 5], got {self.ns_exponent}")
        if not 0.0 <= self.sample < 1.0:
            errors.append(f"sample must be within [0, 1), got {self.sample}")
        if not 0.0 < self.alpha <= 1.0:
            errors.append(f"alpha must be within (0, 1], got {self.alpha}")
        if not 0.0 <= self.min_alpha <= self.alpha:
            errors.append(f"min_alpha must be within [0, alpha], got {self.min_alpha}")
        if self.seed < 0:
            errors.append(f"seed must be >= 0, got {self.seed}")
        if self.cooc_window < 0:
            errors.append(f"cooc_window must be >= 0 (0 = whole playlist), got {self.cooc_window}")
        if self.cooc_repeats and self.cooc_window:
            errors.append("cooc_repeats applies to whole playlists (cooc_window 0); windowed "
                          "pairs already count every play")
        for name in ("next_w2v_weight", "next_transition_weight", "next_cooc_weight",
                     "next_pop_weight"):
            if not 0 <= getattr(self, name) <= WEIGHT_MAX:  # also refuses nan
                errors.append(f"{name} must be within [0, {WEIGHT_MAX:g}], "
                              f"got {getattr(self, name)}")
        if errors:
            raise ValueError("invalid training settings: " + "; ".join(errors))

    # ------------------------------------------------------------------ helpers
    @classmethod
    def field_names(cls) -> list[str]:
        """Names of all settings, in declaration order."""
        return [f.name for f in fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-serialisable dict."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainSettings:
        """Copy with ``changes`` applied (validated, unknown keys rejected)."""
        return self.from_dict({**self.to_dict(), **changes})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainSettings:
        """Build from a mapping; raises ValueError on unknown keys or bad values."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(str(k) for k in set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown training setting(s): {', '.join(unknown)}; "
                             f"valid keys: {', '.join(known)}")
        kwargs = {k: _coerce(k, known[k].type, v) for k, v in data.items()}
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str],
                  overrides: Iterable[str] = ()) -> TrainSettings:
        """Load a YAML mapping file, then apply ``key=value`` overrides."""
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
        return cls.from_dict({**data, **parse_overrides(overrides)})

    def with_overrides(self, overrides: Iterable[str]) -> TrainSettings:
        """Apply ``["window=3", "sg=0"]`` style overrides."""
        return self.replace(**parse_overrides(overrides))


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are type-coerced against the dataclass fields."""
    known = {f.name: f for f in fields(TrainSettings)}
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"override {item!r} is not of the form key=value")
        if key not in known:
            raise ValueError(f"unknown training setting {key!r}; valid keys: {', '.join(known)}")
        out[key] = _coerce(key, known[key].type, value.strip())
    return out


def _coerce(key: str, type_name: Any, value: Any) -> Any:
    """Coerce ``value`` (possibly a string) to the field type named ``type_name``."""
    type_name = getattr(type_name, "__name__", type_name)
    try:
        if type_name == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _BOOL_TRUE:
                return True
            if text in _BOOL_FALSE:
                return False
            raise ValueError(value)
        if type_name == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, float):
                if not math.isfinite(value) or not value.is_integer():
                    raise ValueError(value)
                return int(value)
            return int(str(value).strip())
        if type_name == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"setting {key!r}: cannot interpret {value!r} as {type_name}") from None
    return value
