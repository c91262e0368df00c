"""Processing that survives its worker, retention of refused uploads, per-account quotas, sign-in throttling.

- ``package_progress``: who holds a package (``claimed_by``: host, process id and start time) and when it last said
  so (``heartbeat_at``), so that a claim dies with its process; how often processing failed (``attempts``) and when
  it is tried again (``retry_at``).
- ``original``: ``purged_at`` / ``purge_reason`` when the bytes of a refused upload were deleted after their
  retention period (the row, and the package's refusal, stay).
- ``account``: ``upload_quota_bytes``, an account's own upload quota (NULL: the service's default).
- ``audit_event``: indexes for counting recent failed sign-ins by account and by client address.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('package_progress') as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', _TS, nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('retry_at', _TS, nullable=True))
    with op.batch_alter_table('original') as batch_op:
        batch_op.add_column(sa.Column('purged_at', _TS, nullable=True))
        batch_op.add_column(sa.Column('purge_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('account') as batch_op:
        batch_op.add_column(sa.Column('upload_quota_bytes', sa.BigInteger(), nullable=True))
    op.create_index('ix_audit_event_action_target_at', 'audit_event', ['action', 'target', 'at'])
    op.create_index('ix_audit_event_action_source_at', 'audit_event', ['action', 'source', 'at'])


def downgrade() -> None:
    op.drop_index('ix_audit_event_action_source_at', table_name='audit_event')
    op.drop_index('ix_audit_event_action_target_at', table_name='audit_event')
    with op.batch_alter_table('account') as batch_op:
        batch_op.drop_column('upload_quota_bytes')
    with op.batch_alter_table('original') as batch_op:
        batch_op.drop_column('purge_reason')
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('package_progress') as batch_op:
        batch_op.drop_column('retry_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('claimed_by')
