"""Triggers: alerts, the state each rule keeps between evaluations, and silences.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants"
    )


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("key", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("last_active_at", _utc(), nullable=False),
        sa.Column("fired_at", _utc(), nullable=True),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("acknowledged_at", _utc(), nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.Column("last_notified_at", _utc(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        _tenant_fk("alerts"),
    )
    op.create_index("ix_alerts_tenant_id_rule_state", "alerts", ["tenant_id", "rule", "state"])
    op.create_index("ix_alerts_tenant_id_fingerprint", "alerts", ["tenant_id", "fingerprint"])
    op.create_table(
        "trigger_states",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "rule", name="pk_trigger_states"),
        _tenant_fk("trigger_states"),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", _utc(), nullable=False),
        sa.Column("ends_at", _utc(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("comment", sa.String(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
        _tenant_fk("silences"),
    )
    op.create_index("ix_silences_tenant_id_ends_at", "silences", ["tenant_id", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_silences_tenant_id_ends_at", table_name="silences")
    op.drop_table("silences")
    op.drop_table("trigger_states")
    op.drop_index("ix_alerts_tenant_id_fingerprint", table_name="alerts")
    op.drop_index("ix_alerts_tenant_id_rule_state", table_name="alerts")
    op.drop_table("alerts")
