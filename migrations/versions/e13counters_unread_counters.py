"""unread counters: read markers remember how many visible messages they have seen

Unread counts become thread.message_count - read_markers.read_count (no scan of the
forum's messages); threads.message_count now counts visible messages only.

Revision ID: e13counters
Revises: d1followup
Create Date: 2026-12-05 05:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e13counters'
down_revision = 'd1followup'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('read_markers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_count', sa.Integer(), server_default='0', nullable=False))
    op.execute(
        "UPDATE threads SET message_count = (SELECT count(*) FROM messages"
        " WHERE messages.thread_id = threads.id AND messages.state = 'visible')"
    )
    op.execute(
        "UPDATE read_markers SET read_count = (SELECT count(*) FROM messages"
        " WHERE messages.thread_id = read_markers.thread_id AND messages.state = 'visible'"
        " AND messages.id <= read_markers.last_read_id)"
    )


def downgrade():
    with op.batch_alter_table('read_markers', schema=None) as batch_op:
        batch_op.drop_column('read_count')
    op.execute(
        "UPDATE threads SET message_count = (SELECT count(*) FROM messages"
        " WHERE messages.thread_id = threads.id)"
    )
