"""Insights: the registry of fitted detectors and forecasters, and the anomalies scans find.

Scans are recorded as runs of kind ``scan``; run kinds are checked in code, not by the
database, so that needs no change here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
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
        "insight_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("segment_key", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("training_start", _utc(), nullable=True),
        sa.Column("training_end", _utc(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_insight_models"),
        _tenant_fk("insight_models"),
        sa.UniqueConstraint(
            "tenant_id",
            "kind",
            "metric",
            "segment_key",
            "version",
            name="uq_insight_models_tenant_id_kind_metric_segment_key_version",
        ),
    )
    op.create_index(
        "ix_insight_models_tenant_id_kind_metric",
        "insight_models",
        ["tenant_id", "kind", "metric"],
    )
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("grain", sa.String(), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("segment_key", sa.String(), nullable=False),
        sa.Column("time", _utc(), nullable=False),
        sa.Column("actual", sa.Double(), nullable=False),
        sa.Column("expected", sa.Double(), nullable=True),
        sa.Column("lower", sa.Double(), nullable=True),
        sa.Column("upper", sa.Double(), nullable=True),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("detector", sa.String(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), server_default="open", nullable=False),
        sa.Column("feedback_by", sa.String(), nullable=True),
        sa.Column("feedback_at", _utc(), nullable=True),
        sa.Column("detected_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_anomalies"),
        _tenant_fk("anomalies"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["insight_models.id"], name="fk_anomalies_model_id_insight_models"
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "scope",
            "metric",
            "segment_key",
            "time",
            name="uq_anomalies_tenant_id_scope_metric_segment_key_time",
        ),
    )
    op.create_index(
        "ix_anomalies_tenant_id_scope_metric_time",
        "anomalies",
        ["tenant_id", "scope", "metric", "time"],
    )
    op.create_index(
        "ix_anomalies_tenant_id_scope_detected_at",
        "anomalies",
        ["tenant_id", "scope", "detected_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_anomalies_tenant_id_scope_detected_at", table_name="anomalies")
    op.drop_index("ix_anomalies_tenant_id_scope_metric_time", table_name="anomalies")
    op.drop_table("anomalies")
    op.drop_index("ix_insight_models_tenant_id_kind_metric", table_name="insight_models")
    op.drop_table("insight_models")
