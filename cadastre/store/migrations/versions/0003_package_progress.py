"""Packages received by the service before they are processed: the uploaded file's name on the package, and a
progress row per package that a background worker claims and updates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 19:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('package') as batch_op:
        batch_op.add_column(sa.Column('filename', sa.Text(), nullable=True))
    op.create_table('package_progress',
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('percent', sa.Float(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_package_progress_package_id_package')),
    sa.PrimaryKeyConstraint('package_id', name=op.f('pk_package_progress'))
    )


def downgrade() -> None:
    op.drop_table('package_progress')
    with op.batch_alter_table('package') as batch_op:
        batch_op.drop_column('filename')
