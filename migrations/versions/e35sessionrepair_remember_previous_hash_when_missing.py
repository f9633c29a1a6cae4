"""user_sessions.remember_previous_hash where an installation never got it

Revision ID: e35sessionrepair
Revises: e34searchstops
Create Date: 2026-12-07 06:00:00

The column was added to e17remember after that revision had been released (25a00d4, about
40 minutes on 5 December). An installation migrated in between ran e17remember without it,
and Alembic never runs a revision twice: its upgrade succeeded, and every login then failed
with "no column named remember_previous_hash". This adds the column where it is missing and
does nothing where e17remember made it. The downgrade leaves it: it belongs to e17remember.

A released revision is not edited again; a change to the schema is a new revision.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e35sessionrepair"
down_revision = "e34searchstops"
branch_labels = None
depends_on = None


def upgrade():
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("user_sessions")}
    if "remember_previous_hash" not in columns:
        op.add_column(
            "user_sessions", sa.Column("remember_previous_hash", sa.String(length=64), nullable=True)
        )


def downgrade():
    pass
