"""Initial schema: zoning, packages, findings, waivers, permits, parcels, buildings, floors, units, codes.

Geometry columns are added after their tables with the registry's storage SRID (cadastre.store.ddl).

Revision ID: 0001
Revises:
Create Date: 2026-11-22 16:11:47.640853
"""
import sqlalchemy as sa
from alembic import op

from cadastre.store import ddl

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


#: (table, geometry type, nullable) as of this revision
GEOMETRY_COLUMNS = [
    ("cadastral_district", "MULTIPOLYGON", False),
    ("cadastral_subdistrict", "MULTIPOLYGON", False),
    ("permit", "MULTIPOLYGON", True),
    ("parcel", "MULTIPOLYGON", False),
    ("boundary_point", "POINT", False),
    ("boundary_line", "MULTILINESTRING", False),
    ("building", "MULTIPOLYGON", False),
    ("floor", "MULTIPOLYGON", True),
    ("unit", "MULTIPOLYGON", True),
]


def upgrade() -> None:
    ddl.ensure_spatial_metadata()
    srid = ddl.storage_srid()
    op.create_table('code_counter',
    sa.Column('prefix', sa.String(length=24), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_code_counter'))
    )
    op.create_table('original',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_original'))
    )
    op.create_table('registry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('storage_srid', sa.Integer(), nullable=False),
    sa.Column('counties', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry'))
    )
    op.create_table('package',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('county', sa.String(length=6), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('project_name', sa.Text(), nullable=True),
    sa.Column('surveyor', sa.Text(), nullable=True),
    sa.Column('survey_date', sa.String(length=10), nullable=True),
    sa.Column('permit_number', sa.Text(), nullable=True),
    sa.Column('parcel_code', sa.String(length=19), nullable=True),
    sa.Column('manifest', sa.JSON(), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('submitted_by', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['sha256'], ['original.sha256'], name=op.f('fk_package_sha256_original')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['package.id'], name=op.f('fk_package_supersedes_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_package'))
    )
    with op.batch_alter_table('package', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_package_sha256'), ['sha256'], unique=False)

    op.create_table('zoning_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['sha256'], ['original.sha256'], name=op.f('fk_zoning_import_sha256_original')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zoning_import'))
    )
    op.create_table('boundary_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zddm', sa.String(length=19), nullable=True),
    sa.Column('jzxlb', sa.String(length=4), nullable=True),
    sa.Column('jzxwz', sa.String(length=4), nullable=True),
    sa.Column('jxxz', sa.String(length=8), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_boundary_line_package_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boundary_line'))
    )
    with op.batch_alter_table('boundary_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_boundary_line_package_id'), ['package_id'], unique=False)

    op.create_table('boundary_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jzdh', sa.Text(), nullable=True),
    sa.Column('zddm', sa.String(length=19), nullable=True),
    sa.Column('jblx', sa.String(length=4), nullable=True),
    sa.Column('jzdlx', sa.String(length=4), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_boundary_point_package_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boundary_point'))
    )
    with op.batch_alter_table('boundary_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_boundary_point_package_id'), ['package_id'], unique=False)

    op.create_table('cadastral_district',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('djqdm', sa.String(length=9), nullable=False),
    sa.Column('county', sa.String(length=6), nullable=False),
    sa.Column('djqmc', sa.Text(), nullable=True),
    sa.Column('zoning_import_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['zoning_import_id'], ['zoning_import.id'], name=op.f('fk_cadastral_district_zoning_import_id_zoning_import')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadastral_district'))
    )
    with op.batch_alter_table('cadastral_district', schema=None) as batch_op:
        batch_op.create_index('uq_cadastral_district_current', ['djqdm'], unique=True, sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.create_table('cadastral_subdistrict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('djzqdm', sa.String(length=12), nullable=False),
    sa.Column('djqdm', sa.String(length=9), nullable=False),
    sa.Column('county', sa.String(length=6), nullable=False),
    sa.Column('djzqmc', sa.Text(), nullable=True),
    sa.Column('zoning_import_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['zoning_import_id'], ['zoning_import.id'], name=op.f('fk_cadastral_subdistrict_zoning_import_id_zoning_import')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadastral_subdistrict'))
    )
    with op.batch_alter_table('cadastral_subdistrict', schema=None) as batch_op:
        batch_op.create_index('uq_cadastral_subdistrict_current', ['djzqdm'], unique=True, sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.create_table('code_lineage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('old_code', sa.String(length=28), nullable=False),
    sa.Column('new_code', sa.String(length=28), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_code_lineage_package_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_lineage'))
    )
    with op.batch_alter_table('code_lineage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_code_lineage_new_code'), ['new_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_code_lineage_old_code'), ['old_code'], unique=False)

    op.create_table('finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('layer', sa.String(length=32), nullable=False),
    sa.Column('feature', sa.Text(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('measured', sa.Float(), nullable=True),
    sa.Column('limit', sa.Float(), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_finding_package_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding'))
    )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_package_id'), ['package_id'], unique=False)

    op.create_table('issued_code',
    sa.Column('code', sa.String(length=28), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_issued_code_package_id_package')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_issued_code'))
    )
    op.create_table('parcel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zddm', sa.String(length=19), nullable=False),
    sa.Column('bdcdyh', sa.String(length=28), nullable=True),
    sa.Column('bsm', sa.Text(), nullable=True),
    sa.Column('zdtzm', sa.String(length=2), nullable=False),
    sa.Column('zl', sa.Text(), nullable=True),
    sa.Column('zdmj', sa.Float(), nullable=True),
    sa.Column('yt', sa.String(length=8), nullable=True),
    sa.Column('yt_classification', sa.String(length=16), nullable=True),
    sa.Column('qllx', sa.String(length=4), nullable=True),
    sa.Column('qlxz', sa.String(length=4), nullable=True),
    sa.Column('qlsdfs', sa.String(length=1), nullable=True),
    sa.Column('rjl', sa.Float(), nullable=True),
    sa.Column('jzmd', sa.Float(), nullable=True),
    sa.Column('jzxg', sa.Float(), nullable=True),
    sa.Column('qlr', sa.Text(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_parcel_package_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcel'))
    )
    with op.batch_alter_table('parcel', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parcel_package_id'), ['package_id'], unique=False)
        batch_op.create_index('uq_parcel_current', ['zddm'], unique=True, sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.create_table('permit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Text(), nullable=False),
    sa.Column('county', sa.String(length=6), nullable=True),
    sa.Column('parcel_code', sa.String(length=19), nullable=True),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.Text(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_permit_package_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permit'))
    )
    with op.batch_alter_table('permit', schema=None) as batch_op:
        batch_op.create_index('uq_permit_current', ['number'], unique=True, sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.create_table('building',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('zddm', sa.String(length=19), nullable=False),
    sa.Column('zrzh', sa.String(length=4), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('bsm', sa.Text(), nullable=True),
    sa.Column('jzwmc', sa.Text(), nullable=True),
    sa.Column('zcs', sa.Integer(), nullable=True),
    sa.Column('dscs', sa.Integer(), nullable=True),
    sa.Column('dxcs', sa.Integer(), nullable=True),
    sa.Column('zzdmj', sa.Float(), nullable=True),
    sa.Column('ycjzmj', sa.Float(), nullable=True),
    sa.Column('scjzmj', sa.Float(), nullable=True),
    sa.Column('ghyt', sa.String(length=4), nullable=True),
    sa.Column('fwjg', sa.String(length=2), nullable=True),
    sa.Column('jzwgd', sa.Float(), nullable=True),
    sa.Column('zts', sa.Integer(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_building_package_id_package')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_building_parcel_id_parcel')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_building'))
    )
    with op.batch_alter_table('building', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_building_package_id'), ['package_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_building_parcel_id'), ['parcel_id'], unique=False)
        batch_op.create_index('uq_building_current', ['zddm', 'zrzh'], unique=True, sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.create_table('waiver',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('waived_by', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], name=op.f('fk_waiver_finding_id_finding')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waiver'))
    )
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waiver_finding_id'), ['finding_id'], unique=False)

    op.create_table('floor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('sjc', sa.Integer(), nullable=False),
    sa.Column('myc', sa.Text(), nullable=True),
    sa.Column('cg', sa.Float(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_floor_building_id_building')),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_floor_package_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_floor'))
    )
    with op.batch_alter_table('floor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_floor_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floor_package_id'), ['package_id'], unique=False)

    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bdcdyh', sa.String(length=28), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('bsm', sa.Text(), nullable=True),
    sa.Column('sjc', sa.Integer(), nullable=False),
    sa.Column('myc', sa.Text(), nullable=True),
    sa.Column('dyh', sa.Text(), nullable=True),
    sa.Column('hh', sa.Integer(), nullable=True),
    sa.Column('shbw', sa.Text(), nullable=False),
    sa.Column('fwyt', sa.String(length=4), nullable=True),
    sa.Column('fwlx', sa.String(length=2), nullable=True),
    sa.Column('fwxz', sa.String(length=2), nullable=True),
    sa.Column('ycjzmj', sa.Float(), nullable=True),
    sa.Column('yctnjzmj', sa.Float(), nullable=True),
    sa.Column('ycftjzmj', sa.Float(), nullable=True),
    sa.Column('ycftxs', sa.Float(), nullable=True),
    sa.Column('scjzmj', sa.Float(), nullable=True),
    sa.Column('sctnjzmj', sa.Float(), nullable=True),
    sa.Column('scftjzmj', sa.Float(), nullable=True),
    sa.Column('scftxs', sa.Float(), nullable=True),
    sa.Column('jsrkz', sa.Integer(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_unit_building_id_building')),
    sa.ForeignKeyConstraint(['package_id'], ['package.id'], name=op.f('fk_unit_package_id_package')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit'))
    )
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unit_package_id'), ['package_id'], unique=False)
        batch_op.create_index('uq_unit_current', ['bdcdyh'], unique=True, sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    for table, kind, nullable in GEOMETRY_COLUMNS:
        ddl.add_geometry_column(table, kind, srid, nullable=nullable)


def downgrade() -> None:
    for table, _kind, _nullable in GEOMETRY_COLUMNS:
        ddl.drop_geometry_column(table)
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_index('uq_unit_current', sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))
        batch_op.drop_index(batch_op.f('ix_unit_package_id'))
        batch_op.drop_index(batch_op.f('ix_unit_building_id'))

    op.drop_table('unit')
    with op.batch_alter_table('floor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_floor_package_id'))
        batch_op.drop_index(batch_op.f('ix_floor_building_id'))

    op.drop_table('floor')
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waiver_finding_id'))

    op.drop_table('waiver')
    with op.batch_alter_table('building', schema=None) as batch_op:
        batch_op.drop_index('uq_building_current', sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))
        batch_op.drop_index(batch_op.f('ix_building_parcel_id'))
        batch_op.drop_index(batch_op.f('ix_building_package_id'))

    op.drop_table('building')
    with op.batch_alter_table('permit', schema=None) as batch_op:
        batch_op.drop_index('uq_permit_current', sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.drop_table('permit')
    with op.batch_alter_table('parcel', schema=None) as batch_op:
        batch_op.drop_index('uq_parcel_current', sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))
        batch_op.drop_index(batch_op.f('ix_parcel_package_id'))

    op.drop_table('parcel')
    op.drop_table('issued_code')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_package_id'))

    op.drop_table('finding')
    with op.batch_alter_table('code_lineage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_code_lineage_old_code'))
        batch_op.drop_index(batch_op.f('ix_code_lineage_new_code'))

    op.drop_table('code_lineage')
    with op.batch_alter_table('cadastral_subdistrict', schema=None) as batch_op:
        batch_op.drop_index('uq_cadastral_subdistrict_current', sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.drop_table('cadastral_subdistrict')
    with op.batch_alter_table('cadastral_district', schema=None) as batch_op:
        batch_op.drop_index('uq_cadastral_district_current', sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.drop_table('cadastral_district')
    with op.batch_alter_table('boundary_point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_boundary_point_package_id'))

    op.drop_table('boundary_point')
    with op.batch_alter_table('boundary_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_boundary_line_package_id'))

    op.drop_table('boundary_line')
    op.drop_table('zoning_import')
    with op.batch_alter_table('package', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_package_sha256'))

    op.drop_table('package')
    op.drop_table('registry')
    op.drop_table('original')
    op.drop_table('code_counter')
