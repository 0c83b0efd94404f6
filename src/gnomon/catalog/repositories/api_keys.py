"""API keys: what a key stands for, stored under the SHA-256 of the key, never the key.

The caller generates a key, shows it once, and stores only its digest here; a database leak then
discloses no usable key. Authentication looks a key up by digest across tenants
(:meth:`ApiKeyRepository.by_hash`), because the key is all a request brings; every other method
is scoped to one tenant. A key is never deleted by hand, only revoked, so the audit log's
references to it keep their meaning; it goes away with its user.
"""

import builtins
import re
import uuid
from datetime import datetime

from sqlalchemy import or_, select, update

from gnomon.catalog.models import ApiKey, User
from gnomon.catalog.records import ApiKeyRecord
from gnomon.catalog.repositories._base import (
    Repository,
    require_aware,
    require_name,
    require_names,
)
from gnomon.catalog.repositories.users import user_not_found
from gnomon.errors import Conflict, InvalidInput

__all__ = ["ApiKeyRepository"]

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_PREFIX = 16


def _record(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        tenant=row.tenant_id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        key_hash=row.key_hash,
        roles=list(row.roles),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _check_key(prefix: str, key_hash: str) -> None:
    """Refuse what looks like a key instead of its digest: storing a key would leak it."""
    if not isinstance(key_hash, str) or not _SHA256_HEX.fullmatch(key_hash):
        raise InvalidInput(
            "Invalid key_hash: it must be the SHA-256 hex digest of the key (64 lowercase hex"
            " characters), never the key itself.",
            hint="Store hashlib.sha256(key.encode()).hexdigest().",
            field="key_hash",
        )
    if (
        not isinstance(prefix, str)
        or not 0 < len(prefix) <= _MAX_PREFIX
        or not prefix.isprintable()
    ):
        raise InvalidInput(
            f"Invalid key prefix {prefix!r}: it must be 1-{_MAX_PREFIX} printable characters.",
            hint="Store the first 8 characters of the key, which listings show.",
            field="prefix",
        )


class ApiKeyRepository(Repository):
    """API keys of users, found by digest for authentication and by tenant for management."""

    __slots__ = ()

    def add(
        self,
        *,
        tenant: str,
        user_id: str,
        name: str,
        prefix: str,
        key_hash: str,
        roles: builtins.list[str],
        expires_at: datetime | None = None,
    ) -> ApiKeyRecord:
        """Store a new key of the tenant's user.

        Args:
            tenant: the tenant of the user.
            user_id: the user the key acts as.
            name: what the key is for, e.g. ``ci-export``; names need not be unique.
            prefix: the start of the key (8 characters), shown in listings.
            key_hash: the SHA-256 hex digest of the key.
            roles: the user's roles the key is limited to; empty for all of them.
            expires_at: when the key stops working; ``None`` for never.

        Raises:
            InvalidInput: the name, prefix, digest, a role or the expiry is invalid, or the
                expiry is not in the future.
            UserNotFound: the tenant has no such user.
            Conflict: a key with this digest exists already (the key was not random).
        """
        name = require_name(name, field="key name", example="ci-export")
        _check_key(prefix, key_hash)
        roles = require_names(roles, field="roles", example="viewer")
        now = self._now()
        if expires_at is not None:
            expires_at = require_aware(expires_at, field="expires_at")
            if expires_at <= now:
                raise InvalidInput(
                    f"Invalid expires_at {expires_at.isoformat()}: it is not in the future"
                    f" (now is {now.isoformat()}).",
                    hint="Pass a later expiry, or None for a key that does not expire.",
                    field="expires_at",
                )
        user = self._session.scalars(
            select(User.id).where(User.tenant_id == tenant, User.id == user_id)
        ).one_or_none()
        if user is None:
            raise user_not_found(user_id, tenant)
        self._changed(tenant)
        statement = (
            self._insert(ApiKey)
            .values(
                id=uuid.uuid4().hex,
                tenant_id=tenant,
                user_id=user_id,
                name=name,
                prefix=prefix,
                key_hash=key_hash,
                roles=roles,
                created_at=now,
                expires_at=expires_at,
                revoked_at=None,
                last_used_at=None,
            )
            .on_conflict_do_nothing(index_elements=[ApiKey.key_hash])
        )
        row = self._session.scalars(
            statement.returning(ApiKey), execution_options={"populate_existing": True}
        ).one_or_none()
        if row is None:
            raise Conflict(
                "Cannot add the API key: a key with the same digest exists already.",
                hint="Generate keys from a cryptographic random source (secrets.token_urlsafe).",
                tenant=tenant,
                user_id=user_id,
            )
        return _record(row)

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this digest in any tenant, or ``None``; for authentication only.

        The key is returned even when revoked or expired: the caller decides with
        :meth:`ApiKeyRecord.usable_at` and can tell the two apart in its audit entry.
        """
        row = self._fresh(ApiKey, ApiKey.key_hash == key_hash)
        return None if row is None else _record(row)

    def get(self, *, tenant: str, key_id: str) -> ApiKeyRecord | None:
        """The tenant's key with this id, or ``None`` (also for another tenant's key)."""
        row = self._fresh(ApiKey, ApiKey.tenant_id == tenant, ApiKey.id == key_id)
        return None if row is None else _record(row)

    def list(self, *, tenant: str, user_id: str | None = None) -> builtins.list[ApiKeyRecord]:
        """The tenant's keys, or one user's, oldest first; revoked and expired ones included."""
        statement = select(ApiKey).where(ApiKey.tenant_id == tenant)
        if user_id is not None:
            statement = statement.where(ApiKey.user_id == user_id)
        rows = self._session.scalars(
            statement.order_by(ApiKey.created_at, ApiKey.id).execution_options(
                populate_existing=True
            )
        )
        return [_record(row) for row in rows]

    def revoke(self, *, tenant: str, key_id: str) -> ApiKeyRecord | None:
        """Revoke the key now; revoking it again keeps the first ``revoked_at``.

        Returns:
            The key as revoked, or ``None`` when the tenant has no such key.
        """
        self._session.execute(
            update(ApiKey)
            .where(
                ApiKey.tenant_id == tenant,
                ApiKey.id == key_id,
                ApiKey.revoked_at.is_(None),
            )
            .values(revoked_at=self._now())
            .execution_options(synchronize_session=False)
        )
        self._changed(tenant)
        return self.get(tenant=tenant, key_id=key_id)

    def touch(self, key_id: str, *, at: datetime) -> None:
        """Record that the key was used at ``at``; an earlier time than the one stored is ignored.

        Not scoped to a tenant: it follows :meth:`by_hash` on the authentication path. Keys
        used by concurrent requests settle on the latest time whatever order the writes land.
        """
        at = require_aware(at, field="at")
        self._session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at),
            )
            .values(last_used_at=at)
            .execution_options(synchronize_session=False)
        )
