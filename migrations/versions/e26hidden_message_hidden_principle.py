"""hidden principle: a hidden message's principle is kept apart from the moderator's words

Revision ID: e26hidden
Revises: e25actions
Create Date: 2026-12-06 06:00:00

A hidden message's reason was stored as one text, "Integritet (Privacy): note", so a
Swedish page and an English page both read the principle in two languages, and a message
hidden by flags read Swedish on the English page. The principle is now a column, shown by
its name in the reader's language, and `hidden_reason` keeps only the moderator's words
(both empty: hidden by flags). Existing rows are split where the text starts with a
principle's "name_sv (name_en)"; the flags' Swedish or English sentence becomes empty. The
hiding actions' reasons drop the same prefix (their page shows the principle already).

A nullable column is a plain ADD COLUMN on SQLite (no table rebuild: messages are pointed at
from everywhere, see e25actions); the foreign key is added with it there, and as a
constraint on PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e26hidden"
down_revision = "e25actions"
branch_labels = None
depends_on = None

FLAGGED = (
    "Flagged by several people; waiting for a moderator.",
    "Flaggat av flera personer. Väntar på en moderator.",
)
FK = "fk_messages_hidden_principle_id_principles"


def _prefixes(bind):
    rows = bind.execute(sa.text("SELECT id, name_sv, name_en FROM principles")).all()
    return [(pid, f"{sv} ({en})") for pid, sv, en in rows]


def _split(reason, prefixes):
    """(principle id, note) of a stored reason, or None when no principle starts it."""
    for pid, prefix in prefixes:
        if reason == prefix:
            return pid, None
        if reason.startswith(prefix + ": "):
            return pid, reason[len(prefix) + 2 :]
    return None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE messages ADD COLUMN hidden_principle_id INTEGER "
            f"CONSTRAINT {FK} REFERENCES principles (id)"
        )
    else:
        op.add_column("messages", sa.Column("hidden_principle_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK, "messages", "principles", ["hidden_principle_id"], ["id"])
    prefixes = _prefixes(bind)
    rows = bind.execute(
        sa.text("SELECT id, hidden_reason FROM messages WHERE hidden_reason IS NOT NULL")
    ).all()
    for message_id, reason in rows:
        if reason in FLAGGED:
            principle, note = None, None
        else:
            split = _split(reason, prefixes)
            if split is None:
                continue  # an "other reason": the moderator's words already
            principle, note = split
        bind.execute(
            sa.text(
                "UPDATE messages SET hidden_principle_id = :p, hidden_reason = :n WHERE id = :id"
            ),
            {"p": principle, "n": note, "id": message_id},
        )
    actions = bind.execute(
        sa.text(
            "SELECT id, reason FROM moderation_actions "
            "WHERE kind = 'hide' AND principle_id IS NOT NULL"
        )
    ).all()
    for action_id, reason in actions:
        split = _split(reason or "", prefixes)
        if split is not None:
            bind.execute(
                sa.text("UPDATE moderation_actions SET reason = :r WHERE id = :id"),
                {"r": split[1] or "", "id": action_id},
            )


def downgrade():
    bind = op.get_bind()
    names = {
        pid: prefix for pid, prefix in _prefixes(bind)
    }
    rows = bind.execute(
        sa.text(
            "SELECT id, hidden_principle_id, hidden_reason FROM messages WHERE state = 'hidden'"
        )
    ).all()
    for message_id, principle, note in rows:
        if principle is not None:
            text = f"{names[principle]}: {note}" if note else names[principle]
        else:
            text = note or FLAGGED[1]
        bind.execute(
            sa.text("UPDATE messages SET hidden_reason = :r WHERE id = :id"),
            {"r": text, "id": message_id},
        )
    actions = bind.execute(
        sa.text(
            "SELECT id, principle_id, reason FROM moderation_actions "
            "WHERE kind = 'hide' AND principle_id IS NOT NULL"
        )
    ).all()
    for action_id, principle, note in actions:
        if principle in names:
            text = f"{names[principle]}: {note}" if note else names[principle]
            bind.execute(
                sa.text("UPDATE moderation_actions SET reason = :r WHERE id = :id"),
                {"r": text, "id": action_id},
            )
    if bind.dialect.name != "sqlite":
        op.drop_constraint(FK, "messages", type_="foreignkey")
    op.drop_column("messages", "hidden_principle_id")
