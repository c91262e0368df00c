"""Indexes for looking up every version of a parcel or unit by its code: the partial unique indexes cover only
current rows, so a parcel card or a unit's history scanned the whole table (12 ms on 10^5 parcels).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 20:00:00
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_parcel_zddm', 'parcel', ['zddm'])
    op.create_index('ix_unit_bdcdyh', 'unit', ['bdcdyh'])


def downgrade() -> None:
    op.drop_index('ix_unit_bdcdyh', table_name='unit')
    op.drop_index('ix_parcel_zddm', table_name='parcel')
