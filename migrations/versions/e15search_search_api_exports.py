"""search index, API tokens and personal-data exports

Revision ID: e15search
Revises: e13counters
Create Date: 2026-12-05 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e15search'
down_revision = 'e13counters'
branch_labels = None
depends_on = None

# The same statements as forum/models/search.py (copied: a migration does not change later).
POSTGRES_SETUP = """
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'unaccent is not available; searching without it';
    END;
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'forum_swedish') THEN
        CREATE TEXT SEARCH CONFIGURATION forum_swedish (COPY = pg_catalog.swedish);
        IF EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'unaccent') THEN
            ALTER TEXT SEARCH CONFIGURATION forum_swedish
                ALTER MAPPING FOR hword, hword_part, word WITH unaccent, swedish_stem;
        END IF;
    END IF;
END
$$
"""

POSTGRES_DOCUMENT = [
    """
    ALTER TABLE search_entries ADD COLUMN document tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('forum_swedish'::regconfig, coalesce(title, '')), 'A') ||
        setweight(to_tsvector('forum_swedish'::regconfig, coalesce(body, '')), 'B')
    ) STORED
    """,
    "CREATE INDEX ix_search_entries_document ON search_entries USING gin (document)",
]

SQLITE_SETUP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "title, body, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS search_entries_fts_delete AFTER DELETE ON search_entries "
    "BEGIN DELETE FROM search_fts WHERE rowid = old.id; END",
]


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(POSTGRES_SETUP)
    op.create_table('search_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('forum_id', sa.Integer(), nullable=True),
    sa.Column('thread_id', sa.Integer(), nullable=True),
    sa.Column('round_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_entries')),
    sa.UniqueConstraint('kind', 'object_id', name=op.f('uq_search_entries_kind_object_id'))
    )
    with op.batch_alter_table('search_entries', schema=None) as batch_op:
        batch_op.create_index('ix_search_entries_created_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_search_entries_thread_kind', ['thread_id', 'kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_entries_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_entries_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_entries_forum_id'), ['forum_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_entries_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_entries_round_id'), ['round_id'], unique=False)
    if dialect == 'postgresql':
        for statement in POSTGRES_DOCUMENT:
            op.execute(statement)
    elif dialect == 'sqlite':
        for statement in SQLITE_SETUP:
            op.execute(statement)
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('scopes', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_api_tokens_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
    op.create_table('personal_exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_personal_exports_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_exports')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_personal_exports_token_hash'))
    )
    with op.batch_alter_table('personal_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_personal_exports_user_id'), ['user_id'], unique=False)
    # Existing rows are indexed by `flask --app forum search reindex` (see README).


def downgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('personal_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_personal_exports_user_id'))
    op.drop_table('personal_exports')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
    op.drop_table('api_tokens')
    if dialect == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS search_entries_fts_delete")
        op.execute("DROP TABLE IF EXISTS search_fts")
    with op.batch_alter_table('search_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_entries_round_id'))
        batch_op.drop_index(batch_op.f('ix_search_entries_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_search_entries_forum_id'))
        batch_op.drop_index(batch_op.f('ix_search_entries_department_id'))
        batch_op.drop_index(batch_op.f('ix_search_entries_author_id'))
        batch_op.drop_index('ix_search_entries_thread_kind')
        batch_op.drop_index('ix_search_entries_created_id')
    op.drop_table('search_entries')
    if dialect == 'postgresql':
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS forum_swedish")
