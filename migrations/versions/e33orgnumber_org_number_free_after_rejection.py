"""organisation numbers: a rejected registration gives its number up

Revision ID: e33orgnumber
Revises: e32hiddennotices
Create Date: 2026-12-06 23:40:00

`organisations.org_number` was unique across every row, rejected ones included: once an
admin rejected an impostor's or a mistyped registration, the real organisation could never
register with its number. The unique constraint becomes a partial unique index over the
organisations that are not rejected (pending or verified). The rows are unchanged.

On SQLite dropping the constraint rebuilds `organisations` (batch mode; migrations/env.py
turns foreign keys off while migrating, and checks them before committing).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e33orgnumber"
down_revision = "e32hiddennotices"
branch_labels = None
depends_on = None

NOT_REJECTED = sa.text("status != 'rejected'")


def upgrade():
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_organisations_org_number"), type_="unique")
    op.create_index(
        "ux_organisations_org_number",
        "organisations",
        ["org_number"],
        unique=True,
        postgresql_where=NOT_REJECTED,
        sqlite_where=NOT_REJECTED,
    )


def downgrade():
    # The code before this wants each number once, rejected registrations included. Once a
    # rejected registration's number has been registered again, the old constraint cannot
    # hold: refuse before changing anything rather than fail half-way, and say why.
    shared = op.get_bind().execute(
        sa.text(
            "SELECT COUNT(*) FROM (SELECT org_number FROM organisations "
            "GROUP BY org_number HAVING COUNT(*) > 1) AS shared"
        )
    ).scalar()
    if shared:
        raise RuntimeError(
            f"e33orgnumber cannot be undone: {shared} organisation number(s) are shared by "
            "more than one organisation (a rejected registration and one registered after "
            "it), and the code before this allows each number once. Remove the rejected "
            "registrations that share a number, or restore a backup taken before the upgrade."
        )
    op.drop_index("ux_organisations_org_number", table_name="organisations")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_organisations_org_number"), ["org_number"]
        )
