"""Data contracts and quality checks: types, contracts, drift, and checks compiled to SQL.

The flow a load follows: :func:`load_contract` reads the YAML; :func:`check_version_bump` refuses
an edited contract whose version was not raised; :func:`detect_drift` compares the file's columns
with the contract; :func:`compile_contract` turns the contract into a :class:`CheckPlan` whose
queries the engine runs to split a batch into valid rows (for silver) and quarantined rows; the
plan's dataset checks then decide whether the batch may be published.
"""

from gnomon.quality.checks import (
    CheckResult,
    DatasetCheck,
    FreshnessCheck,
    RowCountCheck,
    UniqueCheck,
)
from gnomon.quality.compile import (
    DIALECTS,
    FAILED_COLUMN,
    REASON_COLUMN,
    RESERVED_COLUMNS,
    RULE_COLUMN,
    RULES_COLUMN,
    WARNED_COLUMN,
    CheckPlan,
    Dialect,
    RowRule,
    RuleKind,
    compile_contract,
)
from gnomon.quality.contract import (
    ChecksSpec,
    ColumnSpec,
    ContractSpec,
    DriftPolicy,
    FreshnessSpec,
    ReferenceSpec,
    RowCountSpec,
    Severity,
    load_contract,
    parse_contract,
    parse_duration,
)
from gnomon.quality.drift import DriftReport, detect_drift
from gnomon.quality.errors import (
    ColumnTypeError,
    ContractError,
    ContractIssue,
    ContractVersionError,
    SchemaDriftError,
)
from gnomon.quality.shapes import TextShape, TextShapes, guard_shapes, has_shape
from gnomon.quality.types import TYPE_NAMES, ColumnType, TypeName, is_widening, parse_type
from gnomon.quality.versioning import breaking_changes, changed_paths, check_version_bump

__all__ = [
    "DIALECTS",
    "FAILED_COLUMN",
    "REASON_COLUMN",
    "RESERVED_COLUMNS",
    "RULES_COLUMN",
    "RULE_COLUMN",
    "TYPE_NAMES",
    "WARNED_COLUMN",
    "CheckPlan",
    "CheckResult",
    "ChecksSpec",
    "ColumnSpec",
    "ColumnType",
    "ColumnTypeError",
    "ContractError",
    "ContractIssue",
    "ContractSpec",
    "ContractVersionError",
    "DatasetCheck",
    "Dialect",
    "DriftPolicy",
    "DriftReport",
    "FreshnessCheck",
    "FreshnessSpec",
    "ReferenceSpec",
    "RowCountCheck",
    "RowCountSpec",
    "RowRule",
    "RuleKind",
    "SchemaDriftError",
    "Severity",
    "TextShape",
    "TextShapes",
    "TypeName",
    "UniqueCheck",
    "breaking_changes",
    "changed_paths",
    "check_version_bump",
    "compile_contract",
    "detect_drift",
    "guard_shapes",
    "has_shape",
    "is_widening",
    "load_contract",
    "parse_contract",
    "parse_duration",
    "parse_type",
]
