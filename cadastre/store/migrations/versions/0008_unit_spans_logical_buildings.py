"""Units as surveyors measure them: the floors a unit spans and the logical building it belongs to.

- ``unit.zzc``: 终止层 — the highest floor of a unit over several floors (跃层, 复式); ``unit.sjc`` is then its lowest
  floor. NULL for a unit on one floor.
- ``unit.ljzh`` / ``unit.ljzmc``: the unit's 逻辑幢号 and that logical building's name (逻辑幢名称, else its 门牌号),
  which the 楼盘表 groups its columns by.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unit') as batch_op:
        batch_op.add_column(sa.Column('zzc', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ljzh', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('ljzmc', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('unit') as batch_op:
        batch_op.drop_column('ljzmc')
        batch_op.drop_column('ljzh')
        batch_op.drop_column('zzc')
