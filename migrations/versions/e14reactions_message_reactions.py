"""message reactions

Revision ID: e14reactions
Revises: e12remiss
Create Date: 2026-12-05 06:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e14reactions"
down_revision = "e12remiss"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "message_reactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("emoji", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_reactions_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_message_reactions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_reactions")),
        sa.UniqueConstraint(
            "message_id",
            "user_id",
            "emoji",
            name=op.f("uq_message_reactions_message_id_user_id_emoji"),
        ),
    )
    with op.batch_alter_table("message_reactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_reactions_message_id"), ["message_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("message_reactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_reactions_message_id"))
    op.drop_table("message_reactions")
