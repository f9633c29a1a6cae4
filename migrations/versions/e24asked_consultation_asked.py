"""consultation asked: the organisations a round asked, kept from the day it opened

Revision ID: e24asked
Revises: e23notelang
Create Date: 2026-12-06 02:30:00

The remiss list was built from today's verified organisations, so an organisation verified
after the round closed appeared as "not answered" and one rejected later vanished with its
response. The organisations asked are now stored when a round opens (and when more are
invited). Rounds already opened are filled from their audience as it is now plus every
organisation that has a response row to them (the best record there is of who was asked).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e24asked"
down_revision = "e23notelang"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "consultation_asked",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_consultation_asked_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["consultation_rounds.id"],
            name=op.f("fk_consultation_asked_round_id_consultation_rounds"),
        ),
        sa.PrimaryKeyConstraint("round_id", "organisation_id", name=op.f("pk_consultation_asked")),
    )
    # rounds already opened: their audience now, and whoever has a response row (UNION: once)
    op.execute(
        """
        INSERT INTO consultation_asked (round_id, organisation_id)
        SELECT r.id, o.id FROM consultation_rounds r, organisations o
         WHERE r.state <> 'draft' AND r.audience = 'all_verified' AND o.status = 'verified'
        UNION
        SELECT r.id, o.id FROM consultation_rounds r
          JOIN consultation_invitations i ON i.round_id = r.id
          JOIN organisations o ON o.id = i.organisation_id
         WHERE r.state <> 'draft' AND r.audience = 'invited' AND o.status = 'verified'
        UNION
        SELECT r.id, c.organisation_id FROM consultation_rounds r
          JOIN consultation_responses c ON c.round_id = r.id
         WHERE r.state <> 'draft'
        """
    )


def downgrade():
    op.drop_table("consultation_asked")
