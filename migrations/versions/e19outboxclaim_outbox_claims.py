"""outbox claims: a sender takes a mail before sending it

Revision ID: e19outboxclaim
Revises: e18reminders
Create Date: 2026-12-05 21:00:00

Two senders running at once (a cron run overlapping the one before, or the embedded clock
beside cron) each read the same waiting mail; a claim taken by a conditional UPDATE before
sending lets only one of them send it.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e19outboxclaim"
down_revision = "e18reminders"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
