"""consultation_rounds.changed_at, actions indexed by updated_at: the API's changed_since

Revision ID: e36roundchanges
Revises: e35sessionrepair
Create Date: 2026-12-07 08:30:00

The open-data API's lists were paged by id only, so a consumer that remembered the highest
id it had seen never saw a round drafted earlier but opened later, nor learnt that a round
it had was closed, moved or given feedback. Each round now stores when what a reader sees
of it last changed; the lists take `changed_since`.

Rounds that exist are filled with the latest time on record for them: made, opened, closed,
feedback published, revised (every change to an open round), their feedback's last edit
once published, and their last entry in the audit log (documents of drafts among them).
Actions already had `updated_at`, but it was not stamped when a moderator hid an action or
showed it again: an action's last unhiding in the audit log, or its hiding, raises it.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e36roundchanges"
down_revision = "e35sessionrepair"
branch_labels = None
depends_on = None

# each a time on record for the round whose row is `consultation_rounds` (NULL: none)
ROUND_TIMES = (
    "opened_at",
    "closed_at",
    "feedback_published_at",
    "revised_at",
    "(SELECT max(f.updated_at) FROM consultation_feedback f"
    " WHERE f.round_id = consultation_rounds.id AND consultation_rounds.state = 'published')",
    "(SELECT max(a.created_at) FROM audit_log a"
    " WHERE a.target_type = 'consultation' AND a.target_id = consultation_rounds.id)",
)

ACTION_TIMES = (
    "hidden_at",
    "(SELECT max(a.created_at) FROM audit_log a"
    " WHERE a.action = 'action.unhidden' AND a.target_type = 'action'"
    " AND a.target_id = actions.id)",
)


def _raise_to(table: str, column: str, times: tuple[str, ...]) -> None:
    """`column` raised to each later time (one statement each: SQLite has no GREATEST, and
    its max() of several values is NULL when one is)."""
    for time in times:
        op.execute(f"UPDATE {table} SET {column} = {time} WHERE {time} > {column}")  # noqa: S608


def upgrade():
    with op.batch_alter_table("consultation_rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE consultation_rounds SET changed_at = created_at")
    _raise_to("consultation_rounds", "changed_at", ROUND_TIMES)
    with op.batch_alter_table("consultation_rounds", schema=None) as batch_op:
        batch_op.alter_column(
            "changed_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
    _raise_to("actions", "updated_at", ACTION_TIMES)
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index("ix_actions_updated_at", ["updated_at"])


def downgrade():
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_updated_at")
    with op.batch_alter_table("consultation_rounds", schema=None) as batch_op:
        batch_op.drop_column("changed_at")
