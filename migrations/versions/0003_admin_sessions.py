"""Server-side dashboard sessions and failed-login records.

``admin_sessions`` holds one row per login (the SHA-256 of the cookie's token), so logging out
or expiring ends a session on every worker; ``admin_login_failures`` counts failed logins per
client address across workers (the throttle used to live in each process).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        _ts("created_at"),
        _ts("last_seen_at"),
    )
    op.create_index("ix_admin_sessions_created_at", "admin_sessions", ["created_at"])
    op.create_table(
        "admin_login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        _ts("at"),
    )
    op.create_index("ix_admin_login_failures_address_at", "admin_login_failures",
                    ["address", "at"])


def downgrade() -> None:
    op.drop_table("admin_login_failures")
    op.drop_table("admin_sessions")
