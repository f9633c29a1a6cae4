"""reading_changes: when what a person may read last changed by a change of their own

Revision ID: e40readingchanged
Revises: e39versionread
Create Date: 2026-12-07 13:40:00

The open-data API's `changed_since` lists what changed since then, and names in `removed`
what a moderator hid or a thread's move took away. What a person gains or loses by a change
of their own (added to or removed from an invite-only forum or its moderators, a role, a
department) changes no item, so a consumer's copy kept their old view for ever. Such a
change is now kept per person, and a `changed_since` from before it is answered 410
`resync`: walk the whole list again. Changes before this revision are not kept.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e40readingchanged"
down_revision = "e39versionread"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reading_changes",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade():
    op.drop_table("reading_changes")
