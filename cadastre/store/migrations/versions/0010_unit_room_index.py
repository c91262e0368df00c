"""Search by room label (``1-101``) at county scale: the current units by 室号部位.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_unit_shbw_current', 'unit', ['shbw'], unique=False,
                    sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_unit_shbw_current', table_name='unit')
