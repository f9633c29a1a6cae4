"""personal exports: failed builds are counted, and a copy that fails too often is given up

Revision ID: e31exportfail
Revises: e30mailfailed
Create Date: 2026-12-08 09:00:00

A "download my data" copy that fails to build was pending again and first again on every
run, so nothing after it was ever prepared. Each failed build now adds to `attempts`; a
copy that failed three times gets the status `failed`, which the person's page shows.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e31exportfail"
down_revision = "e30mailfailed"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("personal_exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    # the code before this knows no given-up copies; they have no file and no link, so
    # they are forgotten (the person can ask again)
    op.execute("DELETE FROM personal_exports WHERE status = 'failed'")
    with op.batch_alter_table("personal_exports", schema=None) as batch_op:
        batch_op.drop_column("attempts")
