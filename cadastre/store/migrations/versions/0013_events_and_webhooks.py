"""Events for other offices (issue 25): the outbox (``event``), webhook subscriptions with their delivery state,
and dead letters.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 13:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('type', sa.String(length=48), nullable=False),
                    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('version', sa.Integer(), nullable=False),
                    sa.Column('data', sa.JSON(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_event')))
    op.create_index('ix_event_type_id', 'event', ['type', 'id'])
    op.create_table('subscription',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('url', sa.Text(), nullable=False),
                    sa.Column('types', sa.JSON(), nullable=True),
                    sa.Column('secret', sa.Text(), nullable=False),
                    sa.Column('description', sa.Text(), nullable=True),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('created_by', sa.Text(), nullable=True),
                    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('cursor', sa.Integer(), nullable=False),
                    sa.Column('attempts', sa.Integer(), nullable=False),
                    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('last_error', sa.Text(), nullable=True),
                    sa.Column('delivered', sa.Integer(), nullable=False),
                    sa.Column('claimed_by', sa.Text(), nullable=True),
                    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription')))
    op.create_table('dead_letter',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('subscription_id', sa.Integer(), nullable=False),
                    sa.Column('event_id', sa.Integer(), nullable=False),
                    sa.Column('attempts', sa.Integer(), nullable=False),
                    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
                    sa.Column('dead_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('last_error', sa.Text(), nullable=True),
                    sa.Column('replayed_at', sa.DateTime(timezone=True), nullable=True),
                    sa.ForeignKeyConstraint(['subscription_id'], ['subscription.id'],
                                            name=op.f('fk_dead_letter_subscription_id_subscription')),
                    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_dead_letter_event_id_event')),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letter')))
    op.create_index(op.f('ix_dead_letter_subscription_id'), 'dead_letter', ['subscription_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_dead_letter_subscription_id'), table_name='dead_letter')
    op.drop_table('dead_letter')
    op.drop_table('subscription')
    op.drop_index('ix_event_type_id', table_name='event')
    op.drop_table('event')
