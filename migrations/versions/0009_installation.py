"""``installation``: the database's identity, which binds a model store to it.

One row (``singleton`` is 1, a check constraint allows nothing else) holding a random id made
by this migration, and when. The model store records the id of the database that first wrote
to it (``owner.json``), and training, registering, promoting, rolling back and pruning on
behalf of another database are refused: song ids are per database, so a model trained from
another catalog answers with the wrong songs (``recsys.index.store``). A backup copies the row
with the rest of the database, so a restored database keeps its store.

An SQL script made offline holds the id it was generated with: generate one per database.
Downgrade drops the table, and with it the id: an upgrade after it makes a new one, and the
store written under the old id then refuses this database until ``python -m recsys models
adopt-store --yes`` releases it (the downgrade logs this).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import logging
import uuid

import sqlalchemy as sa
from alembic import context, op

log = logging.getLogger("alembic.runtime.migration")

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite commits CREATE TABLE at once: a run stopped before the revision was recorded
    # left the table (and perhaps its row), and must run again
    bind = None if context.is_offline_mode() else op.get_bind()
    if bind is None or not sa.inspect(bind).has_table("installation"):
        op.create_table(
            "installation",
            sa.Column("singleton", sa.Integer(), nullable=False, server_default=sa.text("1")),
            sa.Column("installation_id", sa.String(32), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=sa.func.now()),
            sa.PrimaryKeyConstraint("singleton", name="pk_installation"),
            sa.CheckConstraint("singleton = 1", name=op.f("ck_installation_one_row")),
        )
    if bind is None or bind.execute(sa.text("SELECT count(*) FROM installation")).scalar() == 0:
        op.execute(sa.text("INSERT INTO installation (singleton, installation_id) "
                           "VALUES (1, :id)").bindparams(id=uuid.uuid4().hex))


def downgrade() -> None:
    found = None if context.is_offline_mode() else op.get_bind().execute(
        sa.text("SELECT installation_id FROM installation")).scalar()
    if found:
        log.warning("dropping the installation id %s: a model store bound to it refuses this "
                    "database after the next upgrade (a new id) until `python -m recsys models "
                    "adopt-store --yes` releases it", found)
    op.drop_table("installation")
