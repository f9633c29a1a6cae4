"""file_deletions: the stored files still to delete, tried again until they are gone

Revision ID: e38filedeletions
Revises: e37threadaccess
Create Date: 2026-12-07 12:00:00

A withdrawn document's file and preview were deleted once, after the removal's commit; when
storage failed then (object storage down, a permission refused), the failure was logged and
the file stayed in storage for good, unreferenced. The keys are now listed in this table
with the removal and deleted after its commit; a file that could not be deleted stays
listed for `flask documents delete-files` (and the embedded clock) to try again.

The files of documents withdrawn before this (removed before anyone outside their side saw
them: policy.document_withdrawn) are listed too: a delete that failed then is tried again,
and one that worked is done at once (deleting a missing file is no error). The job checks
each against the documents again before it deletes anything.

A new table: nothing is rebuilt. Going down drops it with whatever it still lists (the code
before this has no way to delete those files).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e38filedeletions"
down_revision = "e37threadaccess"
branch_labels = None
depends_on = None

# documents removed before anyone outside their side saw them (policy.document_withdrawn):
# a round's basis removed before the round opened, a letter no submitted version holds
WITHDRAWN = (
    "FROM documents d JOIN consultation_rounds r ON r.id = d.round_id"
    " WHERE d.removed_at IS NOT NULL AND ("
    "(d.response_id IS NULL AND (r.opened_at IS NULL OR d.removed_at < r.opened_at))"
    " OR (d.response_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
    " consultation_version_documents v WHERE v.document_id = d.id)))"
)


def upgrade():
    op.create_table(
        "file_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_deletions")),
    )
    for column in ("storage_key", "preview_key"):
        op.execute(
            "INSERT INTO file_deletions (storage_key, created_at, attempts)"  # noqa: S608
            f" SELECT d.{column}, d.removed_at, 0 {WITHDRAWN} AND d.{column} IS NOT NULL"
            " ORDER BY d.id"
        )


def downgrade():
    op.drop_table("file_deletions")
