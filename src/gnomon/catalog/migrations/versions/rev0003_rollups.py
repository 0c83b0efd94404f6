"""Rollup state: per tenant and rollup, what it was last refreshed from.

Revision ID: 0003
Revises: 0002
Create Date: 2025-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("grain", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("source_table", sa.String(), nullable=False),
        sa.Column("source_version", sa.BigInteger(), nullable=False),
        sa.Column("table_version", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollups"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_rollups_tenant_id_tenants"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_rollups_tenant_id_name"),
    )


def downgrade() -> None:
    op.drop_table("rollups")
