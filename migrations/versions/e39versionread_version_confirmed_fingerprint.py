"""consultation_response_versions.confirmed_fingerprint: the draft its submitter had read

Revision ID: e39versionread
Revises: e38filedeletions
Create Date: 2026-12-07 11:45:00

A submit whose draft equals the version just filed is taken as the same submit sent again
(its answer was lost) and answered as done. So a client that read the draft before a
colleague changed it, and before an admin filed it in the browser, was told its submit was
done, though what was filed held what it had never read. A version now keeps the draft
fingerprint its submitter had read; a submit sent again carries the same, a stale one does
not. Versions filed before this keep none: for them, only a sender that read the draft as
filed is answered as done.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e39versionread"
down_revision = "e38filedeletions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consultation_response_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_fingerprint", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("consultation_response_versions", schema=None) as batch_op:
        batch_op.drop_column("confirmed_fingerprint")
