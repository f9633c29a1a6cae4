"""actions.access_changed_at: the API's changed_since names actions a reader lost

Revision ID: e37actionaccess
Revises: e36roundchanges
Create Date: 2026-12-07 10:30:00

A consumer of `GET /api/v1/actions?changed_since=` learnt of an action that a moderator hid,
or whose thread moved to a forum it cannot read, only by its absence from a whole walk; and
an action whose thread moved to a forum it can read kept its old `updated_at`, so it never
came. A move of the thread, or a change of its forum's visibility, now stamps the thread's
actions' `updated_at` and this column; the list's `removed` names the ones gone.

Actions that exist get the latest such time on record in the audit log: their thread's
moves, and visibility changes of the forum it is in now.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e37actionaccess"
down_revision = "e36roundchanges"
branch_labels = None
depends_on = None

ACCESS_TIMES = (
    "(SELECT max(a.created_at) FROM audit_log a"
    " WHERE a.action = 'thread.moved' AND a.target_type = 'thread'"
    " AND a.target_id = actions.source_thread_id)",
    "(SELECT max(a.created_at) FROM audit_log a JOIN threads t ON t.id = actions.source_thread_id"
    " WHERE a.action = 'forum.visibility' AND a.target_type = 'forum'"
    " AND a.target_id = t.forum_id)",
)


def upgrade():
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("access_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
    for time in ACCESS_TIMES:  # one statement each: SQLite has no GREATEST
        op.execute(
            f"UPDATE actions SET access_changed_at = {time}"  # noqa: S608
            f" WHERE actions.source_thread_id IS NOT NULL AND {time} IS NOT NULL"
            f" AND (access_changed_at IS NULL OR {time} > access_changed_at)"
        )


def downgrade():
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_column("access_changed_at")
