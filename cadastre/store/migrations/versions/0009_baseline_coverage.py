"""The county's existing registry: which 地籍子区 a baseline lot covered, or an administrator declared had no codes
before this service (the safety net that keeps the registry from numbering a sub-district from 00001 when the old
system already issued codes there).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 09:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'baseline_coverage',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('djzqdm', sa.String(length=12), nullable=False),
        sa.Column('how', sa.String(length=16), nullable=False),
        sa.Column('package_id', sa.Integer(), nullable=True),
        sa.Column('declared_by', sa.Text(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_baseline_coverage_package_id_package')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_baseline_coverage')),
    )
    op.create_index(op.f('ix_baseline_coverage_djzqdm'), 'baseline_coverage', ['djzqdm'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_baseline_coverage_djzqdm'), table_name='baseline_coverage')
    op.drop_table('baseline_coverage')
