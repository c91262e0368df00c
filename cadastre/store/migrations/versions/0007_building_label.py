"""A building's 幢号 as the survey wrote it when it was not a number.

- ``building.zrzh_label``: ``A座``, ``商业楼`` … — a surveyed 自然幢号 that is not a 4-digit number; the building
  got the next free 幢号 and keeps this as its label (its 幢名称 too, when the survey gave none). A later survey
  writing the same label replaces this building, as one with the same 幢号 would.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('building') as batch_op:
        batch_op.add_column(sa.Column('zrzh_label', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('building') as batch_op:
        batch_op.drop_column('zrzh_label')
