"""action form tokens: a proposal or an update posted twice is stored once

Revision ID: e25actions
Revises: e24asked
Create Date: 2026-12-06 02:45:00

A double click on "Propose the action" or "Post the update" made two actions (or two
updates), and told the owner's side or the followers twice. Each form now carries a
one-time token, stored with the row under a unique constraint per author, so the second
post finds the first row instead. Rows written before this have no token (NULLs never
clash).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e25actions"
down_revision = "e24asked"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_actions_proposed_by_id_form_token", ["proposed_by_id", "form_token"]
        )
    with op.batch_alter_table("action_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_action_updates_author_id_form_token", ["author_id", "form_token"]
        )


def downgrade():
    with op.batch_alter_table("action_updates", schema=None) as batch_op:
        batch_op.drop_constraint("uq_action_updates_author_id_form_token", type_="unique")
        batch_op.drop_column("form_token")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_actions_proposed_by_id_form_token", type_="unique")
        batch_op.drop_column("form_token")
