"""replies indexed by the message they quote; appeals against lifted decisions closed

Revision ID: e28moderation
Revises: e27search
Create Date: 2026-12-06 06:00:00

A change to a message (edit, deletion, hide, restore, redaction) now also moves the
`changed_at` of the replies quoting it, found by `reply_to_id`: indexed.

An appeal against a decision that was lifted meanwhile (the message restored, the mute
lifted) stayed open, and deciding it "reversed" undid whatever stood on the message then.
Lifting a decision now closes its open appeal as "lapsed"; the ones left open before are
closed here, as of when their decision was lifted, and logged.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e28moderation"
down_revision = "e27search"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_reply_to", ["reply_to_id"])
    bind = op.get_bind()
    stale = bind.execute(
        sa.text(
            "SELECT appeals.id, appeals.action_id, moderation_actions.reversed_at,"
            " moderation_actions.reversed_by_id,"
            " COALESCE(threads.forum_id, moderation_actions.forum_id)"
            " FROM appeals JOIN moderation_actions"
            " ON moderation_actions.id = appeals.action_id"
            " LEFT JOIN threads ON threads.id = moderation_actions.thread_id"
            " WHERE appeals.decided_at IS NULL AND moderation_actions.reversed_at IS NOT NULL"
        )
    ).all()
    for appeal_id, action_id, reversed_at, reversed_by_id, forum_id in stale:
        bind.execute(
            sa.text(
                "UPDATE appeals SET outcome = 'lapsed', decided_at = :at, decided_by_id = :by"
                " WHERE id = :id"
            ),
            {"at": reversed_at, "by": reversed_by_id, "id": appeal_id},
        )
        # once: after a downgrade (which keeps the log) and this upgrade again, the row
        # is there already, and the transparency page counts log rows
        bind.execute(
            sa.text(
                "INSERT INTO audit_log (actor_id, action, target_type, target_id, forum_id,"
                " reason, created_at) SELECT :by, 'appeal.lapsed', 'moderation_action',"
                " :action_id, :forum_id, 'e28moderation', :at WHERE NOT EXISTS (SELECT 1"
                " FROM audit_log WHERE action = 'appeal.lapsed' AND target_id = :action_id)"
            ),
            {"by": reversed_by_id, "action_id": action_id, "forum_id": forum_id, "at": reversed_at},
        )


def downgrade():
    # the code before this revision knows no "lapsed": those appeals are open again
    op.execute(
        "UPDATE appeals SET outcome = NULL, decided_at = NULL, decided_by_id = NULL"
        " WHERE outcome = 'lapsed'"
    )
    # the log keeps what happened
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_reply_to")
