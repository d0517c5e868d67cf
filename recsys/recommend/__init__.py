"""Serving a loaded model bundle: similar / next / several seeds, filters, fallback, why."""

from recsys.recommend.holder import ModelHolder
from recsys.recommend.model import MODES, ServingModel
from recsys.recommend.service import (
    MAX_K,
    RecommendationService,
    UnknownExternalIdError,
    UnknownSongError,
)

__all__ = [
    "MAX_K",
    "MODES",
    "ModelHolder",
    "RecommendationService",
    "ServingModel",
    "UnknownExternalIdError",
    "UnknownSongError",
]
