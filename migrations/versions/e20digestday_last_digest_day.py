"""last digest day: a daily digest goes out once per person per day

Revision ID: e20digestday
Revises: e19outboxclaim
Create Date: 2026-12-05 22:00:00

The once-a-day guard lived only in the scheduler thread's memory (and the CLI had none), so a
restart or a cron run beside the embedded clock sent a second digest the same day. Each
person's last digest day is stored and claimed with a conditional UPDATE before sending.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e20digestday"
down_revision = "e19outboxclaim"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_digest_on", sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_digest_on")
