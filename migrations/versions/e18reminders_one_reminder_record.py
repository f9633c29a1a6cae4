"""consultation reminders: one record, the round notices (drop consultation_reminders)

Revision ID: e18reminders
Revises: e17remember
Create Date: 2026-12-05 21:00:00

The `consultations remind` command kept its own table, so it reminded again organisations
the scheduled notices had just reminded (and the official's overview showed only its
reminders). Both now claim the same round notices; when each organisation was last
reminded is the notice of kind "reminded". The old rows are carried over as that.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e18reminders"
down_revision = "e17remember"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "INSERT INTO consultation_round_notices (round_id, kind, scope, sent_at) "
        "SELECT round_id, 'reminded', organisation_id, sent_at FROM consultation_reminders"
    )
    op.drop_table("consultation_reminders")


def downgrade():
    op.create_table(
        "consultation_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_consultation_reminders_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["consultation_rounds.id"],
            name=op.f("fk_consultation_reminders_round_id_consultation_rounds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_reminders")),
        sa.UniqueConstraint(
            "round_id",
            "organisation_id",
            name=op.f("uq_consultation_reminders_round_id_organisation_id"),
        ),
    )
    op.execute(
        "INSERT INTO consultation_reminders (round_id, organisation_id, sent_at) "
        "SELECT round_id, scope, sent_at FROM consultation_round_notices WHERE kind = 'reminded'"
    )
    op.execute("DELETE FROM consultation_round_notices WHERE kind = 'reminded'")
