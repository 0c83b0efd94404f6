"""Change counters: one generation per scope (a tenant, or the lake's published versions).

Every write to what a request reads on its way (definitions, users, roles, API keys, policies,
published table versions) moves its scope's generation in the same transaction, so a process
can keep those reads in memory and learn of a change from one small read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name="pk_changes"),
    )


def downgrade() -> None:
    op.drop_table("changes")
