"""notification excerpt language: an excerpt the app wrote is marked with its language

Revision ID: e23notelang
Revises: e22changes
Create Date: 2026-12-05 23:30:00

An excerpt such as "Mira saved a draft…" is written at delivery in the recipient's stored
language (Swedish for someone who follows the browser's), so the English page showed Swedish
text without lang="sv". The language it was written in is stored beside it (empty for a quote
of a person's own words, and for the rows written before this).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e23notelang"
down_revision = "e22changes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("excerpt_lang", sa.String(length=5), nullable=True))


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("excerpt_lang")
