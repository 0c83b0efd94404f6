"""Errors of the catalog, each a subclass of a kind in :mod:`gnomon.errors`."""

from gnomon.errors import ConfigError, Conflict, NotFound, Unavailable

__all__ = [
    "AlertNotFound",
    "AnomalyNotFound",
    "CatalogNotMigrated",
    "CatalogUnavailable",
    "DatasetNotFound",
    "LeaseHeld",
    "NotificationNotFound",
    "RunNotFound",
    "SilenceNotFound",
    "SourceNotFound",
    "TenantNotFound",
    "UserNotFound",
]


class TenantNotFound(NotFound):
    """The tenant does not exist; every catalog row needs an existing tenant."""

    code = "tenant_not_found"


class SourceNotFound(NotFound):
    """The tenant has no source of that name; ``details["known"]`` lists the ones it has."""

    code = "source_not_found"


class DatasetNotFound(NotFound):
    """The tenant has no dataset of that name; ``details["known"]`` lists the ones it has."""

    code = "dataset_not_found"


class RunNotFound(NotFound):
    """No run with that id exists for the tenant (a run of another tenant counts as missing)."""

    code = "run_not_found"


class UserNotFound(NotFound):
    """No user with that id exists for the tenant (a user of another tenant counts as missing)."""

    code = "user_not_found"


class AnomalyNotFound(NotFound):
    """No anomaly with that id exists for the tenant (one of another tenant counts as missing)."""

    code = "anomaly_not_found"


class NotificationNotFound(NotFound):
    """No notification with that id exists (for the tenant, when one is given)."""

    code = "notification_not_found"


class AlertNotFound(NotFound):
    """No alert with that id exists for the tenant (one of another tenant counts as missing)."""

    code = "alert_not_found"


class SilenceNotFound(NotFound):
    """No silence with that id exists for the tenant."""

    code = "silence_not_found"


class LeaseHeld(Conflict):
    """Another owner holds the lease, or took it over after this owner failed to renew it."""

    code = "lease_held"


class CatalogUnavailable(Unavailable):
    """The catalog database cannot be reached or stayed locked; retrying later may succeed."""

    code = "catalog_unavailable"


class CatalogNotMigrated(ConfigError):
    """The database schema is missing or at another revision than this version of gnomon needs."""

    code = "catalog_not_migrated"
