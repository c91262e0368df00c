"""Search by the words of a 坐落 at county scale (``隰县 府前街2号``): a trigram index on ``parcel.zl``, so that
``LIKE '%府前街2号%'`` no longer reads every parcel (p95 92 ms over 10^5 parcels, bench/http.py).

PostgreSQL: ``pg_trgm``'s GIN index on the current parcels, which the planner uses for ``LIKE`` by itself. It
extracts trigrams from the characters the database's ``LC_CTYPE`` calls letters: under the C locale Chinese has
none and the index stays unused (correct, but a scan), so a county database needs a UTF-8 ``LC_CTYPE``
(``C.UTF-8`` or ``zh_CN.UTF-8``; README).

SQLite: an FTS5 table with the ``trigram`` tokenizer over ``parcel.zl`` (external content: the text is not kept
twice), kept in step by triggers, so every writer — bulk loaders included — maintains it in its own transaction.
History rows are indexed too; queries join back and keep the current ones.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 12:00:00
"""
from alembic import op
from sqlalchemy import text

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE VIRTUAL TABLE parcel_zl_search USING fts5(zl, content='parcel', content_rowid='id', tokenize='trigram')",
    "INSERT INTO parcel_zl_search(parcel_zl_search) VALUES ('rebuild')",
    "CREATE TRIGGER parcel_zl_search_insert AFTER INSERT ON parcel BEGIN "
    "INSERT INTO parcel_zl_search(rowid, zl) VALUES (new.id, new.zl); END",
    "CREATE TRIGGER parcel_zl_search_delete AFTER DELETE ON parcel BEGIN "
    "INSERT INTO parcel_zl_search(parcel_zl_search, rowid, zl) VALUES ('delete', old.id, old.zl); END",
    "CREATE TRIGGER parcel_zl_search_update AFTER UPDATE OF zl ON parcel BEGIN "
    "INSERT INTO parcel_zl_search(parcel_zl_search, rowid, zl) VALUES ('delete', old.id, old.zl); "
    "INSERT INTO parcel_zl_search(rowid, zl) VALUES (new.id, new.zl); END",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE:
            bind.execute(text(statement))
    else:
        bind.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        bind.execute(text("CREATE INDEX ix_parcel_zl_trgm_current ON parcel USING gin (zl gin_trgm_ops) "
                          "WHERE valid_to IS NULL"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            bind.execute(text(f"DROP TRIGGER parcel_zl_search_{trigger}"))
        bind.execute(text("DROP TABLE parcel_zl_search"))
    else:
        bind.execute(text("DROP INDEX ix_parcel_zl_trgm_current"))
