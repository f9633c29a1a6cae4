"""thread_access_changes: the API's changed_since names the actions a reader lost

Revision ID: e37threadaccess
Revises: e36roundchanges
Create Date: 2026-12-07 11:30:00

A consumer of `GET /api/v1/actions?changed_since=` learnt of an action that a moderator hid,
or whose thread moved to a forum it cannot read, only by its absence from a whole walk; and
an action whose thread moved to a forum it can read kept its old `updated_at`, so it never
came. A move of a thread, or a change of its forum's visibility, now stamps the thread's
actions' `updated_at` and is kept here with who could read the thread before (the forum it
was in and that forum's visibility then): the list's `removed` names an action gone only
to a reader who could read it before.

The changes on record in the audit log are kept from it: a forum's visibility changes (the
old visibility is in the entry's reason, "public → members"), for the threads in it now,
and threads' moves (the forum moved from is the entry's forum), with that forum's
visibility now, the nearest on record.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e37threadaccess"
down_revision = "e36roundchanges"
branch_labels = None
depends_on = None

VISIBILITIES = ("public", "members", "invite")


def _from_the_audit_log() -> list[dict]:
    bind = op.get_bind()
    kept = []
    for forum_id, reason, when in bind.execute(
        sa.text(
            "SELECT target_id, reason, created_at FROM audit_log"
            " WHERE action = 'forum.visibility' AND target_type = 'forum' ORDER BY id"
        )
    ):
        old = (reason or "").split(" → ")[0].strip()
        if old not in VISIBILITIES:
            continue
        for (thread_id,) in bind.execute(
            sa.text("SELECT id FROM threads WHERE forum_id = :f"), {"f": forum_id}
        ):
            kept.append({"t": thread_id, "at": when, "f": forum_id, "v": old})
    for thread_id, forum_id, when, visibility in bind.execute(
        sa.text(
            "SELECT a.target_id, a.forum_id, a.created_at, f.visibility FROM audit_log a"
            " JOIN forums f ON f.id = a.forum_id JOIN threads t ON t.id = a.target_id"
            " WHERE a.action = 'thread.moved' AND a.target_type = 'thread' ORDER BY a.id"
        )
    ):
        kept.append({"t": thread_id, "at": when, "f": forum_id, "v": visibility})
    return kept


def upgrade():
    op.create_table(
        "thread_access_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forum_id", sa.Integer(), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["forum_id"], ["forums.id"], name=op.f("fk_thread_access_changes_forum_id_forums")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.id"], name=op.f("fk_thread_access_changes_thread_id_threads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_access_changes")),
    )
    with op.batch_alter_table("thread_access_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_thread_access_changes_thread_id"), ["thread_id"], unique=False
        )
    kept = _from_the_audit_log()
    if kept:
        op.get_bind().execute(
            sa.text(
                "INSERT INTO thread_access_changes (thread_id, changed_at, forum_id, visibility)"
                " VALUES (:t, :at, :f, :v)"
            ),
            kept,
        )


def downgrade():
    with op.batch_alter_table("thread_access_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_thread_access_changes_thread_id"))
    op.drop_table("thread_access_changes")
