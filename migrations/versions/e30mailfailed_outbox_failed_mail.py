"""outbox: a mail given up on is marked failed and no longer retried

Revision ID: e30mailfailed
Revises: e29actionappeal
Create Date: 2026-12-07 09:00:00

A mail the SMTP server refuses for good (a 5xx answer), or one that failed five times, gets
`failed_at` and stays in the outbox (with its last error) instead of being tried on every
run forever.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e30mailfailed"
down_revision = "e29actionappeal"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
