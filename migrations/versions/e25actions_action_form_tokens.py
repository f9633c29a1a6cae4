"""action form tokens: a proposal or an update posted twice is stored once

Revision ID: e25actions
Revises: e24asked
Create Date: 2026-12-06 02:45:00

A double click on "Propose the action" or "Post the update" made two actions (or two
updates), and told the owner's side or the followers twice. Each form now carries a
one-time token, stored with the row under a unique index per author, so the second
post finds the first row instead. Rows written before this have no token (NULLs never
clash).

No table is rebuilt, on purpose: SQLite connections run with foreign keys on (also the
migrations'), and rebuilding `actions` (batch mode's copy, drop, rename) fails there with
"FOREIGN KEY constraint failed" as soon as a follower, an update or a commitment link
points at an action, leaving `_alembic_tmp_actions` behind. A nullable column is a plain
ADD COLUMN, a unique index is CREATE UNIQUE INDEX, and the downgrade drops the indexes and
then the columns with ALTER TABLE ... DROP COLUMN (SQLite 3.35 or later; a column under no
index, key or constraint is dropped in place).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e25actions"
down_revision = "e24asked"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("actions", sa.Column("form_token", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_actions_proposed_by_id_form_token",
        "actions",
        ["proposed_by_id", "form_token"],
        unique=True,
    )
    op.add_column("action_updates", sa.Column("form_token", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_action_updates_author_id_form_token",
        "action_updates",
        ["author_id", "form_token"],
        unique=True,
    )


def downgrade():
    op.drop_index("uq_action_updates_author_id_form_token", table_name="action_updates")
    op.drop_column("action_updates", "form_token")
    op.drop_index("uq_actions_proposed_by_id_form_token", table_name="actions")
    op.drop_column("actions", "form_token")
