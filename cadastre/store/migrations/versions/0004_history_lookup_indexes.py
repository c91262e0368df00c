"""Indexes for looking up the ended versions of a parcel or unit by its code. The partial unique indexes cover only
current rows, so a parcel card or a unit's history scanned the whole table (12 ms on 10^5 parcels). These are
partial too (ended rows only), so bulk inserts of new, current rows do not maintain them; queries for every
version ask for current and ended rows in two branches (``models.versions_where``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 20:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ENDED = sa.text('valid_to IS NOT NULL')


def upgrade() -> None:
    op.create_index('ix_parcel_zddm_ended', 'parcel', ['zddm'], sqlite_where=ENDED, postgresql_where=ENDED)
    op.create_index('ix_unit_bdcdyh_ended', 'unit', ['bdcdyh'], sqlite_where=ENDED, postgresql_where=ENDED)


def downgrade() -> None:
    op.drop_index('ix_unit_bdcdyh_ended', table_name='unit')
    op.drop_index('ix_parcel_zddm_ended', table_name='parcel')
