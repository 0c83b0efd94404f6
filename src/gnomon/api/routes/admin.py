"""Administration: tenants, users, roles, API keys, access policies and the audit log.

Everything acts on the caller's tenant; another tenant's user, key, role or policy is not found
(404), never forbidden. Only an admin of the configured default tenant sees every tenant and may
create tenants. An API key's text is in the answer that creates it, and nowhere else, ever.
"""

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gnomon.api.schemas import (
    ERROR_RESPONSES,
    Page,
    PageQuery,
    cursor_key,
    next_cursor,
    operation_id,
    own_tenant,
    paginate,
    sort_stamp,
    state_of,
)
from gnomon.api.security import requires
from gnomon.catalog import (
    ApiKeyRecord,
    AuditRecord,
    PolicyRecord,
    TenantRecord,
    UserRecord,
)
from gnomon.context import RequestContext
from gnomon.errors import Forbidden
from gnomon.governance.policies import ADMIN_ROLE
from gnomon.governance.policies.rbac import BUILTIN_ROLES

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1", responses=ERROR_RESPONSES, generate_unique_id_function=operation_id
)

Id = Annotated[str, Path(min_length=1, max_length=128)]
Name = Annotated[str, Path(min_length=1, max_length=255)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- models


class TenantPublic(BaseModel):
    """A tenant: ``id`` is what every record and lake row of it carries."""

    id: str
    name: str
    created_at: datetime


class TenantCreate(_Body):
    """A new tenant."""

    id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Letters, digits, '_', '.' and '-', starting with a letter or digit.",
    )
    name: str | None = Field(default=None, max_length=255)


class UserPublic(BaseModel):
    """A user of the tenant."""

    id: str
    name: str
    display_name: str | None
    roles: list[str]
    attributes: dict[str, Any]
    disabled: bool
    created_at: datetime
    updated_at: datetime


class UserCreate(_Body):
    """A new user; its roles must exist in the tenant (built in or custom)."""

    name: str = Field(min_length=1, max_length=255, description="The login name, e.g. emea@acme.")
    roles: list[str] = Field(default_factory=list, max_length=50)
    attributes: dict[str, Any] = Field(default_factory=dict)
    display_name: str | None = Field(default=None, max_length=255)


class UserUpdate(_Body):
    """Changes to a user; fields left out stay as they are."""

    roles: list[str] | None = Field(default=None, max_length=50)
    attributes: dict[str, Any] | None = None
    display_name: str | None = Field(default=None, max_length=255)
    disabled: bool | None = None


class KeyPublic(BaseModel):
    """An API key as listed: never its text, only the prefix that tells keys apart."""

    id: str
    user_id: str
    name: str
    prefix: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyPublic):
    """A key just made: ``key`` is its text, shown this once and never again."""

    key: str


class KeyCreate(_Body):
    """A new API key; ``roles`` narrows it to some of its user's roles (empty: all of them)."""

    name: str = Field(min_length=1, max_length=255)
    roles: list[str] = Field(default_factory=list, max_length=50)
    expires_at: AwareDatetime | None = None


class RolePublic(BaseModel):
    """A role and the permissions it grants (``*`` is every permission)."""

    name: str
    permissions: list[str]
    builtin: bool


class RoleUpdate(_Body):
    """A custom role's permissions, e.g. ``metrics:query`` or ``metrics:query if region = EMEA``."""

    permissions: list[str] = Field(max_length=100)
    description: str | None = Field(default=None, max_length=1000)


class PolicyPublic(BaseModel):
    """A row policy or column mask on one lake table."""

    id: str
    name: str
    kind: str
    table: str
    roles: list[str]
    spec: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class PolicyUpdate(_Body):
    """A policy: ``spec`` is ``{"predicate": ...}`` (row) or ``{"column", "strategy", ...}``."""

    kind: Literal["row", "mask"]
    table: str = Field(min_length=3, max_length=255, description="The lake table, layer.name.")
    roles: list[str] = Field(default_factory=list, max_length=50)
    spec: dict[str, Any]
    enabled: bool = True


class AuditEntryPublic(BaseModel):
    """One entry of the tenant's hash-chained audit log."""

    seq: int
    at: datetime
    principal: str
    action: str
    target: str | None
    correlation_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditCheckPublic(BaseModel):
    """Whether the tenant's audit chain is intact, and the first bad entry if not."""

    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str | None


def _tenant(record: TenantRecord) -> TenantPublic:
    return TenantPublic(id=record.id, name=record.name, created_at=record.created_at)


def _user(record: UserRecord) -> UserPublic:
    return UserPublic(
        id=record.id,
        name=record.name,
        display_name=record.display_name,
        roles=record.roles,
        attributes=record.attributes,
        disabled=record.disabled,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _key(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "user_id": record.user_id,
        "name": record.name,
        "prefix": record.prefix,
        "roles": record.roles,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "last_used_at": record.last_used_at,
    }


def _policy(record: PolicyRecord) -> PolicyPublic:
    return PolicyPublic(
        id=record.id,
        name=record.name,
        kind=record.kind,
        table=record.table_name,
        roles=record.roles,
        spec=record.spec,
        enabled=record.enabled,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _entry(record: AuditRecord) -> AuditEntryPublic:
    return AuditEntryPublic(
        seq=record.seq,
        at=record.at,
        principal=record.principal,
        action=record.action,
        target=record.target,
        correlation_id=record.correlation_id,
        details=record.details,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


# ---------------------------------------------------------------- tenants


def _sees_all_tenants(request: Request, ctx: RequestContext) -> bool:
    default = state_of(request).app.settings.tenant
    return ctx.tenant == default and ADMIN_ROLE in ctx.principal.roles


@router.get("/tenants", response_model=Page[TenantPublic], tags=["tenants"])
def list_tenants(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("tenants:read")]
) -> Page[TenantPublic]:
    """The caller's tenant; every tenant for an admin of the default tenant."""
    app = state_of(request).app
    with app.catalog.transaction() as tx:
        if _sees_all_tenants(request, ctx):
            tenants = tx.tenants.list()
        else:
            tenants = [t for t in tx.tenants.list() if t.id == ctx.tenant]
    chunk, cursor = paginate(
        request, tenants, page=page, ctx=ctx, listing="tenants", key=lambda t: (t.id,)
    )
    return Page(items=[_tenant(t) for t in chunk], next_cursor=cursor)


@router.post("/tenants", response_model=TenantPublic, status_code=201, tags=["tenants"])
def create_tenant(
    body: TenantCreate,
    request: Request,
    ctx: Annotated[RequestContext, requires("tenants:write")],
) -> TenantPublic:
    """Create a tenant (principals of the default tenant only)."""
    app = state_of(request).app
    if ctx.tenant != app.settings.tenant:
        raise Forbidden(
            "Only principals of the default tenant may create tenants.",
            hint=f"Sign in to tenant {app.settings.tenant!r} to create tenants.",
            permission="tenants:write",
        )
    record = app.identities.create_tenant(body.id, ctx=ctx, name=body.name)
    return _tenant(record)


# ---------------------------------------------------------------- users


@router.get("/users", response_model=Page[UserPublic], tags=["users"])
def list_users(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("users:read")]
) -> Page[UserPublic]:
    """The tenant's users, by name."""
    after = cursor_key(request, page, ctx=ctx, listing="users")
    name = None if after is None else str(after[0])
    found = state_of(request).app.identities.users(ctx=ctx, after=name, limit=page.limit + 1)
    chunk = found[: page.limit]
    more = len(found) > page.limit
    cursor = next_cursor(request, (chunk[-1].name,), ctx=ctx, listing="users") if more else None
    return Page(items=[_user(u) for u in chunk], next_cursor=cursor)


@router.post("/users", response_model=UserPublic, status_code=201, tags=["users"])
def create_user(
    body: UserCreate, request: Request, ctx: Annotated[RequestContext, requires("users:write")]
) -> UserPublic:
    """Add a user to the tenant."""
    with own_tenant(ctx):
        created = state_of(request).app.identities.create_user(
            ctx=ctx,
            name=body.name,
            roles=body.roles,
            attributes=body.attributes,
            display_name=body.display_name,
        )
    return _user(created)


@router.get("/users/{user_id}", response_model=UserPublic, tags=["users"])
def get_user(
    user_id: Id, request: Request, ctx: Annotated[RequestContext, requires("users:read")]
) -> UserPublic:
    """One user of the tenant."""
    return _user(state_of(request).app.identities.user(user_id, ctx=ctx))


@router.patch("/users/{user_id}", response_model=UserPublic, tags=["users"])
def update_user(
    user_id: Id,
    body: UserUpdate,
    request: Request,
    ctx: Annotated[RequestContext, requires("users:write")],
) -> UserPublic:
    """Change a user's roles, attributes, display name or disabled flag."""
    updated = state_of(request).app.identities.update_user(
        user_id,
        ctx=ctx,
        roles=body.roles,
        attributes=body.attributes,
        display_name=body.display_name,
        disabled=body.disabled,
    )
    return _user(updated)


@router.delete("/users/{user_id}", status_code=204, response_class=Response, tags=["users"])
def delete_user(
    user_id: Id, request: Request, ctx: Annotated[RequestContext, requires("users:write")]
) -> Response:
    """Remove a user and its API keys."""
    state_of(request).app.identities.delete_user(user_id, ctx=ctx)
    return Response(status_code=204)


# ---------------------------------------------------------------- API keys


@router.post("/users/{user_id}/keys", response_model=KeyCreated, status_code=201, tags=["keys"])
def create_key(
    user_id: Id,
    body: KeyCreate,
    request: Request,
    ctx: Annotated[RequestContext, requires("keys:write")],
) -> KeyCreated:
    """Make an API key for a user; its text is in this answer only."""
    made = state_of(request).app.identities.create_key(
        user_id, ctx=ctx, name=body.name, roles=body.roles, expires_at=body.expires_at
    )
    return KeyCreated(key=made.key, **_key(made.record))


@router.get("/keys", response_model=Page[KeyPublic], tags=["keys"])
def list_keys(
    request: Request,
    page: PageQuery,
    ctx: Annotated[RequestContext, requires("keys:read")],
    user_id: Annotated[str | None, Query(max_length=128)] = None,
) -> Page[KeyPublic]:
    """The tenant's API keys (optionally one user's), oldest first; never their text."""
    keys = state_of(request).app.identities.keys(ctx=ctx, user_id=user_id)
    chunk, cursor = paginate(
        request,
        keys,
        page=page,
        ctx=ctx,
        listing="keys:" + json.dumps(user_id),
        key=lambda k: (sort_stamp(k.created_at), k.id),
    )
    return Page(items=[KeyPublic(**_key(k)) for k in chunk], next_cursor=cursor)


@router.delete("/keys/{key_id}", response_model=KeyPublic, tags=["keys"])
def revoke_key(
    key_id: Id, request: Request, ctx: Annotated[RequestContext, requires("keys:write")]
) -> KeyPublic:
    """Revoke a key at once; it is refused from then on."""
    return KeyPublic(**_key(state_of(request).app.identities.revoke_key(key_id, ctx=ctx)))


# ---------------------------------------------------------------- roles


@router.get("/roles", response_model=Page[RolePublic], tags=["roles"])
def list_roles(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("roles:read")]
) -> Page[RolePublic]:
    """Every role of the tenant, built-in ones included, by name."""
    roles = state_of(request).app.identities.roles(ctx=ctx)
    items = [
        RolePublic(name=name, permissions=perms, builtin=name in BUILTIN_ROLES)
        for name, perms in roles.items()
    ]
    chunk, cursor = paginate(
        request, items, page=page, ctx=ctx, listing="roles", key=lambda r: (r.name,)
    )
    return Page(items=chunk, next_cursor=cursor)


@router.put("/roles/{name}", response_model=RolePublic, tags=["roles"])
def put_role(
    name: Name,
    body: RoleUpdate,
    request: Request,
    ctx: Annotated[RequestContext, requires("roles:write")],
) -> RolePublic:
    """Create or replace a custom role (built-in roles cannot be redefined)."""
    with own_tenant(ctx):
        role = state_of(request).app.identities.put_role(
            name, ctx=ctx, permissions=body.permissions, description=body.description
        )
    return RolePublic(name=role.name, permissions=role.permissions, builtin=False)


@router.delete("/roles/{name}", status_code=204, response_class=Response, tags=["roles"])
def delete_role(
    name: Name, request: Request, ctx: Annotated[RequestContext, requires("roles:write")]
) -> Response:
    """Remove a custom role."""
    state_of(request).app.identities.delete_role(name, ctx=ctx)
    return Response(status_code=204)


# ---------------------------------------------------------------- policies


@router.get("/policies", response_model=Page[PolicyPublic], tags=["policies"])
def list_policies(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("policies:read")]
) -> Page[PolicyPublic]:
    """The tenant's row policies and masks, by name."""
    policies = state_of(request).app.policies.list(ctx=ctx)
    chunk, cursor = paginate(
        request, policies, page=page, ctx=ctx, listing="policies", key=lambda p: (p.name,)
    )
    return Page(items=[_policy(p) for p in chunk], next_cursor=cursor)


@router.put("/policies/{name}", response_model=PolicyPublic, tags=["policies"])
def put_policy(
    name: Name,
    body: PolicyUpdate,
    request: Request,
    ctx: Annotated[RequestContext, requires("policies:write")],
) -> PolicyPublic:
    """Create or replace a policy; checked against the table's columns first."""
    app = state_of(request).app
    with own_tenant(ctx):
        saved = app.policies.save(
            ctx=ctx,
            name=name,
            kind=body.kind,
            table=body.table,
            roles=body.roles,
            spec=body.spec,
            enabled=body.enabled,
        )
    return _policy(saved)


@router.delete("/policies/{name}", status_code=204, response_class=Response, tags=["policies"])
def delete_policy(
    name: Name, request: Request, ctx: Annotated[RequestContext, requires("policies:write")]
) -> Response:
    """Remove a policy."""
    state_of(request).app.policies.delete(name, ctx=ctx)
    return Response(status_code=204)


# ---------------------------------------------------------------- audit


@router.get("/audit", response_model=Page[AuditEntryPublic], tags=["audit"])
def list_audit(
    request: Request,
    page: PageQuery,
    ctx: Annotated[RequestContext, requires("audit:read")],
    action: Annotated[str | None, Query(max_length=128)] = None,
) -> Page[AuditEntryPublic]:
    """The tenant's audit log in chain order (oldest first), optionally of one action."""
    listing = "audit:" + json.dumps(action)
    after = cursor_key(request, page, ctx=ctx, listing=listing)
    seq = after[0] if after is not None and isinstance(after[0], int) else None
    found = state_of(request).app.audit.entries(
        ctx=ctx, after_seq=seq, limit=page.limit + 1, action=action
    )
    chunk = found[: page.limit]
    more = len(found) > page.limit
    cursor = next_cursor(request, (chunk[-1].seq,), ctx=ctx, listing=listing) if more else None
    return Page(items=[_entry(e) for e in chunk], next_cursor=cursor)


@router.get("/audit/verify", response_model=AuditCheckPublic, tags=["audit"])
def verify_audit(
    request: Request, ctx: Annotated[RequestContext, requires("audit:read")]
) -> AuditCheckPublic:
    """Recompute the tenant's hash chain; names the first changed or missing entry."""
    check = state_of(request).app.audit.verify(ctx=ctx)
    return AuditCheckPublic(
        ok=check.ok,
        entries=check.entries,
        first_bad_seq=check.first_bad_seq,
        reason=check.reason,
    )
