"""Access policies: row-level security and column masking, decided per principal.

Policies are stored per tenant; :class:`PolicyService` turns the ones that apply to a principal
into an :class:`gnomon.engine.Access`, which the engine applies to every read's syntax tree.
"""

from gnomon.governance.policies.access import (
    ADMIN_ROLE,
    MASK_STRATEGIES,
    MaskRule,
    RowRule,
    resolve_access,
    rules_from_records,
)
from gnomon.governance.policies.service import PolicyService
from gnomon.governance.policies.templates import (
    PolicyTemplateError,
    bind_predicate,
    predicate_columns,
)

__all__ = [
    "ADMIN_ROLE",
    "MASK_STRATEGIES",
    "MaskRule",
    "PolicyService",
    "PolicyTemplateError",
    "RowRule",
    "bind_predicate",
    "predicate_columns",
    "resolve_access",
    "rules_from_records",
]
