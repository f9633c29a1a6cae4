"""action decline and hide: the owner's side declines a proposal, a moderator hides one

Revision ID: e26actiondecline
Revises: e26hidden
Create Date: 2026-12-06 05:30:00

A proposed action could only wait for acceptance: the side it was proposed to could not
say no, and a moderator could neither hide it nor take personal data out of its title.
`actions` gets when and why it was declined and when and why it was hidden (who did
either is in the action's history and the audit log); `action_history` gets `admin_only`
for the row that keeps a redacted title's original text.

As in e25actions no table is rebuilt (SQLite runs the migrations with foreign keys on,
and a rebuild of `actions` fails once anything points at an action): plain nullable
columns (and one with a server default) are ADD COLUMN, and the downgrade drops them in
place (no index, key or constraint is on them).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e26actiondecline"
down_revision = "e26hidden"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("actions", sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("actions", sa.Column("decline_reason", sa.Text(), nullable=True))
    op.add_column("actions", sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("actions", sa.Column("hidden_reason", sa.Text(), nullable=True))
    op.add_column(
        "action_history",
        sa.Column("admin_only", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade():
    # The code before this knows no hidden, declined or redacted action: dropping the
    # columns would show a hidden action (personal data a moderator took out of view) and
    # reopen a declined proposal, and upgrading again would not bring either back. So the
    # downgrade refuses while any is recorded, and says why.
    kept = op.get_bind().execute(
        sa.text(
            "SELECT (SELECT COUNT(*) FROM actions WHERE hidden_at IS NOT NULL "
            "OR declined_at IS NOT NULL) + "
            "(SELECT COUNT(*) FROM action_history WHERE admin_only)"
        )
    ).scalar()
    if kept:
        raise RuntimeError(
            f"e26actiondecline cannot be undone: {kept} hidden or declined action(s) or "
            "redacted title(s) would become visible and could not be restored by upgrading "
            "again. Restore a backup taken before the upgrade instead."
        )
    op.drop_column("action_history", "admin_only")
    op.drop_column("actions", "hidden_reason")
    op.drop_column("actions", "hidden_at")
    op.drop_column("actions", "decline_reason")
    op.drop_column("actions", "declined_at")
