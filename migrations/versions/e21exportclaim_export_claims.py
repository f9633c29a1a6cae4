"""export claims: a stuck "download my data" is taken up again; one waiting copy a person

Revision ID: e21exportclaim
Revises: e20digestday
Create Date: 2026-12-05 23:30:00

A worker killed while preparing a personal export left it `running` for ever, and every
later request returned that row. A claim that runs out (`claimed_until`) lets the next run
take it up again. Two requests at once (a double click) each found no waiting row and
inserted one (a `running` row from before, with no claim, counts as run out); a partial unique index allows only one pending or running copy a person.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e21exportclaim"
down_revision = "e20digestday"
branch_labels = None
depends_on = None

WAITING = sa.text("status IN ('pending', 'running')")


def upgrade():
    with op.batch_alter_table("personal_exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    # Duplicates from before the index: keep each person's first waiting copy.
    op.execute(
        "DELETE FROM personal_exports WHERE status IN ('pending', 'running') AND id NOT IN "
        "(SELECT min(id) FROM personal_exports WHERE status IN ('pending', 'running') "
        "GROUP BY user_id)"
    )
    op.create_index(
        "ux_personal_exports_waiting",
        "personal_exports",
        ["user_id"],
        unique=True,
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )


def downgrade():
    op.drop_index("ux_personal_exports_waiting", table_name="personal_exports")
    with op.batch_alter_table("personal_exports", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
