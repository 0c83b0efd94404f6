"""Users, their API keys and custom roles of a tenant; and the key store authentication reads.

Every change is recorded in the audit log. An API key is shown once, when it is made; only its
SHA-256 is stored.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from gnomon.catalog import (
    ApiKeyRecord,
    Catalog,
    CatalogMemo,
    ChangeWatch,
    RoleRecord,
    TenantRecord,
    UserRecord,
    require_io,
)
from gnomon.clock import Clock
from gnomon.context import Principal, RequestContext
from gnomon.errors import Conflict, Forbidden, InvalidInput, NotFound
from gnomon.governance.audit import AuditService
from gnomon.governance.auth import StoredKey, new_api_key
from gnomon.governance.policies.rbac import (
    BUILTIN_ROLES,
    PERMISSIONS,
    parse_grant,
    permissions_of,
)

__all__ = ["CatalogKeyStore", "IdentityService", "NewApiKey"]

_TOUCH_EVERY = timedelta(minutes=1)
"""A key's "last used" is precise to this: writing it on every request would serialise them."""


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just made: ``key`` is the secret, shown this once."""

    key: str
    record: ApiKeyRecord


class CatalogKeyStore:
    """The catalog's API keys joined with their users, as authentication needs them.

    Found keys are kept in memory while their tenant's change generation stands (revoking a
    key, changing or disabling its user moves it); unknown keys are always looked up.
    """

    def __init__(self, catalog: Catalog, changes: ChangeWatch) -> None:
        self._catalog = catalog
        self._touched: dict[str, datetime] = {}
        self._keys: CatalogMemo[str, StoredKey | None] = CatalogMemo(
            changes, load=self._read, scope=lambda _hash, key: None if key is None else key.tenant
        )

    def find(self, key_hash: str) -> StoredKey | None:
        """The key with this hash in any tenant, with its user."""
        return self._keys.get(key_hash)

    def _read(self, key_hash: str) -> StoredKey | None:
        with self._catalog.transaction(read_only=True) as tx:
            key = tx.api_keys.by_hash(key_hash)
            user = None if key is None else tx.users.get(tenant=key.tenant, user_id=key.user_id)
        if key is None or user is None:
            return None
        return StoredKey(
            tenant=key.tenant,
            key_id=key.id,
            key_hash=key.key_hash,
            user=user.name,
            user_roles=frozenset(user.roles),
            user_attributes=dict(user.attributes),
            key_roles=frozenset(key.roles) if key.roles else None,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            user_disabled=user.disabled,
        )

    def touch(self, key_id: str, *, at: datetime) -> None:
        """Record the key's last use, at most once a minute per key (it is a write)."""
        last = self._touched.get(key_id)
        if last is not None and timedelta(0) <= at - last < _TOUCH_EVERY:
            return
        require_io("record an API key's last use")
        with self._catalog.transaction() as tx:
            tx.api_keys.touch(key_id, at=at)
        self._touched[key_id] = at


class IdentityService:
    """Users, API keys and custom roles of the request's tenant."""

    def __init__(
        self, *, catalog: Catalog, audit: AuditService, clock: Clock, changes: ChangeWatch
    ) -> None:
        self._catalog = catalog
        self._audit = audit
        self._clock = clock
        self._roles: CatalogMemo[str, Mapping[str, tuple[str, ...]]] = CatalogMemo(
            changes, load=self._read_roles, scope=lambda tenant, _roles: tenant
        )

    # ------------------------------------------------------------ tenants

    def create_tenant(
        self, tenant_id: str, *, ctx: RequestContext, name: str | None = None
    ) -> TenantRecord:
        """Add a tenant (recorded in the new tenant's audit log, by ``ctx``'s principal).

        Raises:
            Conflict: it exists.
        """
        with self._catalog.transaction() as tx:
            if any(t.id == tenant_id for t in tx.tenants.list()):
                raise Conflict(
                    f"Tenant {tenant_id!r} already exists.",
                    hint="Choose another id, or use the existing tenant.",
                    tenant=tenant_id,
                )
            record = tx.tenants.ensure(tenant_id, name=name)
        self._audit.record(
            RequestContext(replace(ctx.principal, tenant=tenant_id), ctx.correlation_id),
            "tenant.create",
            target=tenant_id,
            by_tenant=ctx.tenant,
        )
        return record

    def tenants(self) -> list[TenantRecord]:
        """Every tenant (for administrators of the whole installation)."""
        with self._catalog.transaction() as tx:
            return tx.tenants.list()

    # ------------------------------------------------------------ users

    def create_user(
        self,
        *,
        ctx: RequestContext,
        name: str,
        roles: Sequence[str],
        attributes: dict[str, Any] | None = None,
        display_name: str | None = None,
    ) -> UserRecord:
        """Add a user; its roles must exist (built in or custom) and be the caller's to grant."""
        self._check_grantable(ctx, roles)
        with self._catalog.transaction() as tx:
            self._check_roles(tx, ctx.tenant, roles)
            user = tx.users.create(
                tenant=ctx.tenant,
                name=name,
                roles=list(roles),
                attributes=attributes,
                display_name=display_name,
            )
        self._audit.record(ctx, "user.create", target=user.name, roles=list(roles))
        return user

    def users(
        self, *, ctx: RequestContext, after: str | None = None, limit: int = 100
    ) -> list[UserRecord]:
        """A page of the tenant's users, by name."""
        with self._catalog.transaction(read_only=True) as tx:
            return tx.users.list(tenant=ctx.tenant, after=after, limit=limit)

    def user(self, user_id: str, *, ctx: RequestContext) -> UserRecord:
        """One user of the tenant (another tenant's id is not found)."""
        with self._catalog.transaction(read_only=True) as tx:
            found = tx.users.get(tenant=ctx.tenant, user_id=user_id)
        if found is None:
            raise NotFound(f"No user has the id {user_id!r}.", user_id=user_id)
        return found

    def user_named(self, name: str, *, ctx: RequestContext) -> UserRecord:
        """A user of the tenant by name."""
        with self._catalog.transaction(read_only=True) as tx:
            found = tx.users.by_name(tenant=ctx.tenant, name=name)
        if found is None:
            raise NotFound(f"No user is called {name!r} in tenant {ctx.tenant!r}.", user=name)
        return found

    def update_user(
        self,
        user_id: str,
        *,
        ctx: RequestContext,
        roles: Sequence[str] | None = None,
        attributes: dict[str, Any] | None = None,
        display_name: str | None = None,
        disabled: bool | None = None,
    ) -> UserRecord:
        """Change a user's roles, attributes, name shown or disabled flag."""
        if roles is not None:
            self._check_grantable(ctx, roles)
        with self._catalog.transaction() as tx:
            if roles is not None:
                self._check_roles(tx, ctx.tenant, roles)
            updated = tx.users.update(
                tenant=ctx.tenant,
                user_id=user_id,
                roles=None if roles is None else list(roles),
                attributes=attributes,
                display_name=display_name,
                disabled=disabled,
            )
        self._audit.record(ctx, "user.update", target=updated.name)
        return updated

    def delete_user(self, user_id: str, *, ctx: RequestContext) -> None:
        """Remove a user and its keys."""
        user = self.user(user_id, ctx=ctx)
        with self._catalog.transaction() as tx:
            tx.users.delete(tenant=ctx.tenant, user_id=user_id)
        self._audit.record(ctx, "user.delete", target=user.name)

    # ------------------------------------------------------------ keys

    def create_key(
        self,
        user_id: str,
        *,
        ctx: RequestContext,
        name: str,
        roles: Sequence[str] = (),
        expires_at: datetime | None = None,
    ) -> NewApiKey:
        """Make an API key for a user; the key text is returned once and never stored."""
        user = self.user(user_id, ctx=ctx)
        self._check_grantable(ctx, list(roles) or user.roles)
        extra = sorted(set(roles) - set(user.roles))
        if extra:
            raise InvalidInput(
                f"A key cannot have roles its user lacks: {', '.join(extra)}.",
                hint=f"{user.name} has: {', '.join(user.roles) or '(none)'}.",
            )
        if expires_at is not None and expires_at <= self._clock.now():
            raise InvalidInput("The key would expire in the past.", hint="Give a future time.")
        key, prefix, key_hash = new_api_key()
        with self._catalog.transaction() as tx:
            record = tx.api_keys.add(
                tenant=ctx.tenant,
                user_id=user.id,
                name=name,
                prefix=prefix,
                key_hash=key_hash,
                roles=list(roles),
                expires_at=expires_at,
            )
        self._audit.record(ctx, "key.create", target=record.id, user=user.name, name=name)
        return NewApiKey(key, record)

    def keys(self, *, ctx: RequestContext, user_id: str | None = None) -> list[ApiKeyRecord]:
        """The tenant's keys (never their text)."""
        with self._catalog.transaction(read_only=True) as tx:
            return tx.api_keys.list(tenant=ctx.tenant, user_id=user_id)

    def revoke_key(self, key_id: str, *, ctx: RequestContext) -> ApiKeyRecord:
        """Revoke a key at once; it is refused from then on."""
        with self._catalog.transaction() as tx:
            record = tx.api_keys.revoke(tenant=ctx.tenant, key_id=key_id)
        if record is None:
            raise NotFound(f"No API key has the id {key_id!r}.", key_id=key_id)
        self._audit.record(ctx, "key.revoke", target=key_id)
        return record

    # ------------------------------------------------------------ roles

    def put_role(
        self,
        name: str,
        *,
        ctx: RequestContext,
        permissions: Sequence[str],
        description: str | None = None,
    ) -> RoleRecord:
        """Create or replace a custom role (built-in roles cannot be redefined)."""
        if name in BUILTIN_ROLES:
            raise InvalidInput(
                f"{name!r} is a built-in role and cannot be redefined.",
                hint="Give the custom role another name.",
            )
        for text in permissions:
            parse_grant(text)
        self._check_permissions(ctx, permissions)
        with self._catalog.transaction() as tx:
            role = tx.roles.put(
                tenant=ctx.tenant,
                name=name,
                permissions=list(permissions),
                description=description,
            )
        self._audit.record(ctx, "role.put", target=name, permissions=list(permissions))
        return role

    def roles(self, *, ctx: RequestContext) -> dict[str, list[str]]:
        """Every role of the tenant with its permissions, built-in ones included."""
        with self._catalog.transaction(read_only=True) as tx:
            custom = {r.name: list(r.permissions) for r in tx.roles.list(tenant=ctx.tenant)}
        return {**{k: list(v) for k, v in BUILTIN_ROLES.items()}, **custom}

    def delete_role(self, name: str, *, ctx: RequestContext) -> None:
        """Remove a custom role."""
        with self._catalog.transaction() as tx:
            if not tx.roles.delete(tenant=ctx.tenant, name=name):
                raise NotFound(f"No custom role is called {name!r}.", role=name)
        self._audit.record(ctx, "role.delete", target=name)

    def custom_roles(self, tenant: str) -> Mapping[str, tuple[str, ...]]:
        """The tenant's custom roles, for permission checks (kept while none changes)."""
        return self._roles.get(tenant)

    def _read_roles(self, tenant: str) -> Mapping[str, tuple[str, ...]]:
        with self._catalog.transaction(read_only=True) as tx:
            roles = {r.name: tuple(r.permissions) for r in tx.roles.list(tenant=tenant)}
        return MappingProxyType(roles)

    def _check_grantable(self, ctx: RequestContext, roles: Sequence[str]) -> None:
        """Nobody hands out permissions it does not hold itself (roles of users and keys)."""
        custom = self.custom_roles(ctx.tenant)
        mine = permissions_of(ctx.principal, custom)
        for role in roles:
            wanted = permissions_of(
                Principal(tenant=ctx.tenant, user="", roles=frozenset({role})), custom
            )
            missing = sorted(wanted - mine)
            if missing:
                raise Forbidden(
                    f"{ctx.principal.user} may not grant role {role!r}: it would hand out "
                    f"{', '.join(missing)}, which {ctx.principal.user} does not hold.",
                    hint="Ask an administrator to grant it.",
                    role=role,
                )

    def _check_permissions(self, ctx: RequestContext, permissions: Sequence[str]) -> None:
        """A custom role may only hold permissions its author holds."""
        mine = permissions_of(ctx.principal, self.custom_roles(ctx.tenant))
        wanted = {g.permission for g in map(parse_grant, permissions)}
        if "*" in wanted:
            wanted = set(PERMISSIONS)
        missing = sorted(wanted - mine)
        if missing:
            raise Forbidden(
                f"{ctx.principal.user} may not define a role with {', '.join(missing)}, "
                "which it does not hold.",
                hint="Ask an administrator to define it.",
            )

    @staticmethod
    def _check_roles(tx: Any, tenant: str, roles: Sequence[str]) -> None:
        known = set(BUILTIN_ROLES) | {r.name for r in tx.roles.list(tenant=tenant)}
        unknown = sorted(set(roles) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown role {', '.join(map(repr, unknown))}.",
                hint=f"Roles: {', '.join(sorted(known))}.",
            )
