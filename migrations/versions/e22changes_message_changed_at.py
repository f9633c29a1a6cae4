"""message changed_at: a reconnecting page catches up on edits, hides and reactions

Revision ID: e22changes
Revises: e21exportclaim
Create Date: 2026-12-05 23:10:00

`join {since}` returned only the messages with an id above `since`: an edit, a deletion,
a moderator's hide or restore, a redaction or a reaction made while a page was away never
reached it. Each message now stores when it last changed, indexed per thread, and the join
returns the messages changed since the page's cursor.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e22changes"
down_revision = "e21exportclaim"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_messages_thread_changed", ["thread_id", "changed_at"])


def downgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_thread_changed")
        batch_op.drop_column("changed_at")
