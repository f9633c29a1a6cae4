"""hiding a follow-up action is a moderation decision its proposer can appeal

Revision ID: e29actionappeal
Revises: e28moderation
Create Date: 2026-12-06 12:30:00

A moderator's hiding of a follow-up action is now recorded as a moderation decision
(`moderation_actions.kind = 'hide_action'`, `follow_up_action_id`), like hiding a message,
so its proposer can appeal it. The actions hidden before get their decision here: by whoever
the audit log says hid it, with the reason and time the action keeps.

Downgrading removes these decisions and the appeals against them (the code before knows no
such decision and could not read them); the audit log keeps that the action was hidden and
appealed, an appeal still waiting is logged as lapsed, and the action stays hidden. A
moderator who hid their own proposal gets no decision (nobody to appeal), as in the code.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e29actionappeal"
down_revision = "e28moderation"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("moderation_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up_action_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_moderation_actions_follow_up_action_id", ["follow_up_action_id"]
        )
        batch_op.create_foreign_key(
            "fk_moderation_actions_follow_up_action_id_actions",
            "actions",
            ["follow_up_action_id"],
            ["id"],
        )
    # not when the moderator hid their own proposal: nobody to appeal (as the code does)
    op.execute(
        "INSERT INTO moderation_actions (kind, subject_id, actor_id, forum_id, thread_id,"
        " follow_up_action_id, reason_code, reason, created_at)"
        " SELECT 'hide_action', hidden.proposed_by_id, hidden.actor_id, hidden.forum_id,"
        " hidden.source_thread_id, hidden.id, 'other', hidden.reason, hidden.hidden_at"
        " FROM (SELECT actions.id, actions.proposed_by_id, actions.source_thread_id,"
        "  actions.hidden_at, COALESCE(actions.hidden_reason, '') AS reason,"
        "  threads.forum_id AS forum_id,"
        "  (SELECT audit_log.actor_id FROM audit_log WHERE audit_log.action = 'action.hidden'"
        "   AND audit_log.target_type = 'action' AND audit_log.target_id = actions.id"
        "   ORDER BY audit_log.id DESC LIMIT 1) AS actor_id"
        "  FROM actions LEFT JOIN threads ON threads.id = actions.source_thread_id"
        "  WHERE actions.hidden_at IS NOT NULL AND actions.proposed_by_id IS NOT NULL) AS hidden"
        " WHERE hidden.actor_id IS NULL OR hidden.actor_id <> hidden.proposed_by_id"
    )


def downgrade():
    # an appeal still waiting ends here without a decision: logged as lapsed, so the
    # transparency page (submitted minus decided, from the log) counts none still waiting
    op.execute(
        "INSERT INTO audit_log (actor_id, action, target_type, target_id, forum_id, reason,"
        " created_at) SELECT NULL, 'appeal.lapsed', 'moderation_action', appeals.action_id,"
        " COALESCE(threads.forum_id, moderation_actions.forum_id), 'e29actionappeal',"
        " CURRENT_TIMESTAMP FROM appeals JOIN moderation_actions"
        " ON moderation_actions.id = appeals.action_id"
        " LEFT JOIN threads ON threads.id = moderation_actions.thread_id"
        " WHERE moderation_actions.kind = 'hide_action' AND appeals.decided_at IS NULL"
    )
    op.execute(
        "DELETE FROM appeals WHERE action_id IN"
        " (SELECT id FROM moderation_actions WHERE kind = 'hide_action')"
    )
    op.execute("DELETE FROM moderation_actions WHERE kind = 'hide_action'")
    with op.batch_alter_table("moderation_actions", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_moderation_actions_follow_up_action_id_actions", type_="foreignkey"
        )
        batch_op.drop_index("ix_moderation_actions_follow_up_action_id")
        batch_op.drop_column("follow_up_action_id")
