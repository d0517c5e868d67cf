"""Database layer: models and session helpers (no Flask here)."""

from recsys.db.base import Base
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
    "make_engine",
    "make_session_factory",
    "session_scope",
]
