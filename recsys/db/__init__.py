"""Database layer: models and session helpers (no Flask here)."""

from recsys.db.base import OPTIONAL_INDEXES, Base, include_in_autogenerate
from recsys.db.models import (
    AdminSession,
    ImportRun,
    LoginFailure,
    ModelEvent,
    ModelVersion,
    Playlist,
    PlaylistItem,
    Song,
    SongTag,
    Tag,
    TrainingRun,
)
from recsys.db.session import make_engine, make_session_factory, session_scope

__all__ = [
    "AdminSession",
    "Base",
    "OPTIONAL_INDEXES",
    "ImportRun",
    "LoginFailure",
    "ModelEvent",
    "ModelVersion",
    "Playlist",
    "PlaylistItem",
    "Song",
    "SongTag",
    "Tag",
    "TrainingRun",
    "include_in_autogenerate",
    "make_engine",
    "make_session_factory",
    "session_scope",
]
