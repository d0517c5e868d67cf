"""Initial schema: catalog, playlists, import/training runs, model registry.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False, server_now: bool = False) -> sa.Column:
    default = sa.func.now() if server_now else None
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def upgrade() -> None:
    op.create_table(
        "songs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("title", sa.String(512), nullable=False),
        sa.Column("artist", sa.String(512), nullable=False),
        _ts("created_at", server_now=True),
        sa.UniqueConstraint("source", "external_id", name="uq_songs_source_external_id"),
    )
    op.create_index("ix_songs_artist", "songs", ["artist"])
    op.create_index("ix_songs_title", "songs", ["title"])

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.UniqueConstraint("name", name="uq_tags_name"),
    )
    op.create_table(
        "song_tags",
        sa.Column("song_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["song_id"], ["songs.id"], name="fk_song_tags_song_id_songs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name="fk_song_tags_tag_id_tags", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("song_id", "tag_id", name="pk_song_tags"),
    )
    op.create_index("ix_song_tags_tag_id", "song_tags", ["tag_id"])

    op.create_table(
        "playlists",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(512), nullable=True),
        _ts("created_at", server_now=True),
        sa.UniqueConstraint("source", "external_id", name="uq_playlists_source_external_id"),
    )
    op.create_table(
        "playlist_items",
        sa.Column("playlist_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("song_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name="fk_playlist_items_playlist_id_playlists",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["song_id"], ["songs.id"], name="fk_playlist_items_song_id_songs"),
        sa.PrimaryKeyConstraint("playlist_id", "position", name="pk_playlist_items"),
    )
    op.create_index("ix_playlist_items_song_id", "playlist_items", ["song_id"])

    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        sa.Column("songs_added", sa.Integer(), nullable=False),
        sa.Column("playlists_added", sa.Integer(), nullable=False),
        sa.Column("items_added", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
    )
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("data_snapshot", JSON, nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("words_per_sec", sa.Float(), nullable=True),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_training_runs_started_at", "training_runs", ["started_at"])

    op.create_table(
        "model_versions",
        sa.Column("version", sa.String(64), primary_key=True),
        _ts("created_at", server_now=True),
        sa.Column("training_run_id", sa.Integer(), nullable=True),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("manifest", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
            name="fk_model_versions_training_run_id_training_runs",
        ),
    )
    op.create_table(
        "model_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("previous_version", sa.String(64), nullable=True),
        _ts("at"),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_model_events_at", "model_events", ["at"])


def downgrade() -> None:
    op.drop_table("model_events")
    op.drop_table("model_versions")
    op.drop_table("training_runs")
    op.drop_table("import_runs")
    op.drop_table("playlist_items")
    op.drop_table("playlists")
    op.drop_table("song_tags")
    op.drop_table("tags")
    op.drop_table("songs")
