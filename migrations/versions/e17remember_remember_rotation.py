"""remember-me rotation: a generation counter, the last replacement and the token it replaced

Revision ID: e17remember
Revises: e16searchterms
Create Date: 2026-12-05 17:30:00

A remember-me token that was just replaced is still taken for a short while (another tab
of the same browser, or a request whose answer a patchy network lost, carries it), and a
replaced token used after that ends the session: someone else holds the current one.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e17remember"
down_revision = "e16searchterms"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("remember_generation", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("remember_rotated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("remember_previous_hash", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_column("remember_previous_hash")
        batch_op.drop_column("remember_rotated_at")
        batch_op.drop_column("remember_generation")
