"""Governance commands: tenants, users, keys, roles, policies, audit and development tokens.

These commands act as the local system user of the tenant they name (the project's by default),
so they work before any user exists; every change lands in the tenant's audit log. Secrets (API
keys, tokens) go to stdout alone, so ``KEY=$(gnomon keys create …)`` captures just the secret,
and the note around them goes to stderr.
"""

import json
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from gnomon.app import Gnomon
from gnomon.catalog import ApiKeyRecord, AuditRecord, UserRecord
from gnomon.cli._common import FormatOption, ProjectOption, TenantOption, open_project
from gnomon.cli._render import OutputFormat, console, err_console, render
from gnomon.context import RequestContext
from gnomon.errors import Forbidden, InvalidInput
from gnomon.governance.policies.rbac import BUILTIN_ROLES

__all__ = ["register"]

_PAGE = 500
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# ---------------------------------------------------------------- shared


def _context(app: Gnomon, tenant: str | None) -> RequestContext:
    """The system context of ``tenant``; the project's own tenant is made on first use."""
    with app.catalog.transaction() as tx:
        if tenant is None:
            tx.tenants.ensure(app.settings.tenant)
        else:
            tx.tenants.get(tenant)  # TenantNotFound lists the known tenants
    return app.context(tenant)


def _for_people(rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Table rows: lists joined, times to the second, wide columns left out."""
    return [
        {
            k: (
                ", ".join(map(str, v))
                if isinstance(v, list)
                else v.replace(microsecond=0)
                if isinstance(v, datetime)
                else v
            )
            for k, v in row.items()
            if k not in drop
        }
        for row in rows
    ]


def _all_users(app: Gnomon, ctx: RequestContext) -> Iterator[UserRecord]:
    after: str | None = None
    while True:
        page = app.identities.users(ctx=ctx, after=after, limit=_PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].name


def _attributes(pairs: list[str]) -> dict[str, Any]:
    """``key=text`` gives a string; ``key:=JSON`` a number, boolean, list or object."""
    attributes: dict[str, Any] = {}
    for pair in pairs:
        equals = pair.find("=")
        typed = equals > 0 and pair[equals - 1] == ":"
        key, sep, value = pair.partition(":=" if typed else "=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(
                f"--attr {pair!r} is not of the form key=value.",
                hint="For example: --attr region=EMEA, or --attr level:=2 for a JSON value.",
            )
        if typed:
            try:
                attributes[key] = json.loads(value)
            except ValueError:
                raise InvalidInput(
                    f"--attr {pair!r}: {value!r} is not a JSON value.",
                    hint='For example: --attr level:=2 or --attr regions:=\'["EMEA","APAC"]\'.',
                ) from None
        else:
            attributes[key] = value
    return attributes


def _expiry(text: str | None, now: datetime) -> datetime | None:
    """``30d``, ``12h``, ``90m``, ``2w`` from now, or an ISO 8601 date or time (UTC if naive)."""
    if text is None:
        return None
    number, unit = text[:-1], text[-1:].lower()
    if unit in _DURATION_UNITS and number.isdigit() and int(number) > 0:
        return now + timedelta(**{_DURATION_UNITS[unit]: int(number)})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--expires {text!r} is neither a duration nor a date.",
            hint="For example: --expires 30d (also h, m, w) or --expires 2027-01-31.",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)


# ---------------------------------------------------------------- tenants


def tenants_list(project: ProjectOption = Path(), fmt: FormatOption = OutputFormat.table) -> None:
    """List the tenants of the catalog."""
    with open_project(project) as app, app.catalog.transaction() as tx:
        rows = [{"id": t.id, "name": t.name, "created_at": t.created_at} for t in tx.tenants.list()]
    if fmt is OutputFormat.table:
        rows = _for_people(rows)
    render(rows, fmt, title="Tenants", empty="No tenants.")


def tenants_create(
    tenant_id: Annotated[str, typer.Argument(metavar="NAME", help="The tenant id, e.g. acme.")],
    name: Annotated[str | None, typer.Option("--name", help="Display name (default: id).")] = None,
    project: ProjectOption = Path(),
) -> None:
    """Create a tenant: the boundary no read, definition or key crosses."""
    with open_project(project) as app:
        app.identities.create_tenant(tenant_id, ctx=app.context(), name=name)
    console.print(f"Created tenant [bold]{tenant_id}[/].")


# ---------------------------------------------------------------- users


def _user_row(user: UserRecord) -> dict[str, Any]:
    return {
        "name": user.name,
        "id": user.id,
        "roles": user.roles,
        "attributes": user.attributes,
        "disabled": user.disabled,
        "created_at": user.created_at,
    }


def users_list(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the tenant's users with their roles and attributes."""
    with open_project(project) as app:
        rows = [_user_row(u) for u in _all_users(app, _context(app, tenant))]
    if fmt is OutputFormat.table:
        rows = _for_people(rows, drop=("id",))
    render(rows, fmt, title="Users", empty="No users yet.")


def users_create(
    name: Annotated[str, typer.Argument(help="The login name, e.g. emea@acme.")],
    role: Annotated[
        list[str] | None,
        typer.Option("--role", "-r", help="A built-in or custom role (repeatable)."),
    ] = None,
    attr: Annotated[
        list[str] | None,
        typer.Option(
            "--attr", help="An attribute policies use: key=value, or key:=JSON (repeatable)."
        ),
    ] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
) -> None:
    """Add a user with roles and attributes (e.g. --role analyst --attr region=EMEA)."""
    attributes = _attributes(attr or [])
    with open_project(project) as app:
        ctx = _context(app, tenant)
        user = app.identities.create_user(
            ctx=ctx, name=name, roles=role or [], attributes=attributes
        )
    console.print(
        f"Created user [bold]{user.name}[/] in tenant {ctx.tenant} "
        f"(roles: {', '.join(user.roles) or 'none'}; id {user.id}).",
        highlight=False,
    )


def users_disable(
    name: Annotated[str, typer.Argument(help="The user's login name.")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
) -> None:
    """Disable a user: its keys and tokens are refused from now on."""
    with open_project(project) as app:
        ctx = _context(app, tenant)
        user = app.identities.user_named(name, ctx=ctx)
        app.identities.update_user(user.id, ctx=ctx, disabled=True)
    console.print(f"Disabled user [bold]{name}[/].")


# ---------------------------------------------------------------- keys


def _key_row(key: ApiKeyRecord, users: dict[str, str]) -> dict[str, Any]:
    return {
        "id": key.id,
        "user": users.get(key.user_id, key.user_id),
        "name": key.name,
        "prefix": key.prefix,
        "roles": key.roles,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
    }


def keys_create(
    user: Annotated[str, typer.Option("--user", "-u", help="The user the key acts as.")],
    name: Annotated[
        str | None, typer.Option("--name", help="What the key is for (default: cli).")
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", "-r", help="Narrow the key to these of the user's roles."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="30d, 12h, 2w … or a date; default: never."),
    ] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Make an API key for a user and print it: it is shown this once and cannot be again."""
    with open_project(project) as app:
        ctx = _context(app, tenant)
        expires_at = _expiry(expires, app.clock.now())
        owner = app.identities.user_named(user, ctx=ctx)
        made = app.identities.create_key(
            owner.id, ctx=ctx, name=name or "cli", roles=role or [], expires_at=expires_at
        )
    if fmt is not OutputFormat.table:
        render([{"key": made.key, **_key_row(made.record, {owner.id: owner.name})}], fmt)
        return
    typer.echo(made.key)
    err_console.print(
        f"[yellow]note:[/] API key {made.record.id} for {owner.name} "
        f"(expires {made.record.expires_at or 'never'}). This is the only time it is shown: "
        "store it now; it cannot be shown again (revoke it and make another if lost).",
        highlight=False,
    )


def keys_list(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's keys.")] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the tenant's API keys (their prefixes, never the keys)."""
    with open_project(project) as app:
        ctx = _context(app, tenant)
        user_id = None if user is None else app.identities.user_named(user, ctx=ctx).id
        names = {u.id: u.name for u in _all_users(app, ctx)}
        rows = [_key_row(k, names) for k in app.identities.keys(ctx=ctx, user_id=user_id)]
    if fmt is OutputFormat.table:
        rows = _for_people(
            [{**r, "roles": r["roles"] or "(user's)"} for r in rows], drop=("created_at",)
        )
    render(rows, fmt, title="API keys", empty="No API keys.")


def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key id (gnomon keys list).")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
) -> None:
    """Revoke an API key at once; it is refused from then on."""
    with open_project(project) as app:
        app.identities.revoke_key(key_id, ctx=_context(app, tenant))
    console.print(f"Revoked API key {key_id}.", highlight=False)


# ---------------------------------------------------------------- roles


def roles_list(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the roles (built-in and the tenant's own) with their permissions."""
    with open_project(project) as app:
        roles = app.identities.roles(ctx=_context(app, tenant))
    rows: list[dict[str, Any]] = [
        {"name": name, "builtin": name in BUILTIN_ROLES, "permissions": permissions}
        for name, permissions in sorted(roles.items())
    ]
    if fmt is OutputFormat.table:
        rows = _for_people(rows)
    render(rows, fmt, title="Roles")


def roles_set(
    name: Annotated[str, typer.Argument(help="The custom role.")],
    permission: Annotated[
        list[str],
        typer.Option(
            "--permission",
            "-P",
            help="e.g. metrics:query, or 'metrics:query if department = finance' (repeatable).",
        ),
    ],
    description: Annotated[str | None, typer.Option(help="What the role is for.")] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
) -> None:
    """Create or replace a custom role as a set of permissions."""
    with open_project(project) as app:
        role = app.identities.put_role(
            name, ctx=_context(app, tenant), permissions=permission, description=description
        )
    console.print(f"Role [bold]{role.name}[/]: {', '.join(role.permissions)}.", highlight=False)


def roles_delete(
    name: Annotated[str, typer.Argument(help="The custom role.")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
) -> None:
    """Remove a custom role."""
    with open_project(project) as app:
        app.identities.delete_role(name, ctx=_context(app, tenant))
    console.print(f"Deleted role [bold]{name}[/].")


# ---------------------------------------------------------------- policies


def policies_list(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the tenant's row policies and column masks."""
    with open_project(project) as app:
        records = app.policies.list(ctx=_context(app, tenant))
    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "kind": p.kind,
            "table": p.table_name,
            "roles": p.roles,
            "rule": p.spec,
            "enabled": p.enabled,
            "updated_at": p.updated_at,
        }
        for p in sorted(records, key=lambda p: p.name)
    ]
    if fmt is OutputFormat.table:
        rows = _for_people([{**r, "roles": r["roles"] or "(all but admin)"} for r in rows])
    render(rows, fmt, title="Access policies", empty="No access policies.")


def _policy_spec(
    kind: str,
    *,
    predicate: str | None,
    column: str | None,
    strategy: str | None,
    reveal: int | None,
    value: str | None,
) -> dict[str, Any]:
    if kind == "row":
        if predicate is None or column is not None or strategy is not None:
            raise InvalidInput(
                "A row policy takes --predicate (and no --column or --strategy).",
                hint='For example: --kind row --predicate "region = {{ user.region }}"',
            )
        return {"predicate": predicate}
    if kind == "mask":
        if column is None or strategy is None or predicate is not None:
            raise InvalidInput(
                "A mask takes --column and --strategy (and no --predicate).",
                hint="For example: --kind mask --column customer_id --strategy partial --reveal 4",
            )
        spec: dict[str, Any] = {"column": column, "strategy": strategy}
        if reveal is not None:
            spec["reveal"] = reveal
        if value is not None:
            spec["value"] = value
        return spec
    raise InvalidInput(f"--kind {kind!r} is not a policy kind.", hint="Use row or mask.")


def policies_set(
    name: Annotated[str, typer.Argument(help="The policy's name.")],
    kind: Annotated[str, typer.Option("--kind", help="row (a filter) or mask (a column).")],
    table: Annotated[str, typer.Option("--table", help="The lake table, e.g. silver.orders.")],
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role", "-r", help="Whom it applies to (repeatable; default: all but admin)."
        ),
    ] = None,
    predicate: Annotated[
        str | None,
        typer.Option(help='Row policy: a condition, e.g. "region = {{ user.region }}".'),
    ] = None,
    column: Annotated[str | None, typer.Option(help="Mask: the column to mask.")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="Mask: partial, hash, redact or substitute.")
    ] = None,
    reveal: Annotated[
        int | None, typer.Option(min=0, help="Mask partial: characters left visible (4).")
    ] = None,
    value: Annotated[
        str | None, typer.Option(help="Mask substitute: the value shown instead (***).")
    ] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
) -> None:
    """Create or replace a row policy or column mask, checked against the table's columns."""
    spec = _policy_spec(
        kind, predicate=predicate, column=column, strategy=strategy, reveal=reveal, value=value
    )
    _layer, dot, table_name = table.partition(".")
    if not dot or not table_name:
        raise InvalidInput(
            f"--table {table!r} is not of the form layer.name.", hint="For example: silver.orders"
        )
    with open_project(project) as app:
        ctx = _context(app, tenant)
        app.policies.save(ctx=ctx, name=name, kind=kind, table=table, roles=role or [], spec=spec)
    console.print(f"Saved {kind} policy [bold]{name}[/] on {table}.", highlight=False)


def policies_delete(
    name: Annotated[str, typer.Argument(help="The policy's name.")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
) -> None:
    """Remove a row policy or column mask."""
    with open_project(project) as app:
        ctx = _context(app, tenant)
        app.policies.delete(name, ctx=ctx)
    console.print(f"Deleted policy [bold]{name}[/].")


# ---------------------------------------------------------------- audit


def _audit_row(entry: AuditRecord) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "principal": entry.principal,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
        "correlation_id": entry.correlation_id,
        "hash": entry.hash,
    }


def audit_list(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 50,
    action: Annotated[
        str | None, typer.Option(help="Only entries of this action, e.g. sql.query.")
    ] = None,
    after: Annotated[
        int | None,
        typer.Option(min=0, help="The entries after this seq (default: the latest ones)."),
    ] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List audit entries in log order: the latest --limit, or those after --after."""
    with open_project(project) as app:
        ctx = _context(app, tenant)
        if after is not None:
            entries = app.audit.entries(ctx=ctx, after_seq=after, limit=limit, action=action)
        else:
            latest: deque[AuditRecord] = deque(maxlen=limit)
            cursor: int | None = None
            while True:
                page = app.audit.entries(ctx=ctx, after_seq=cursor, limit=_PAGE, action=action)
                latest.extend(page)
                if len(page) < _PAGE:
                    break
                cursor = page[-1].seq
            entries = list(latest)
    rows = [_audit_row(e) for e in entries]
    if fmt is OutputFormat.table:
        rows = _for_people(rows, drop=("hash", "correlation_id"))
    render(rows, fmt, title="Audit log", empty="No audit entries.")


def audit_verify(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
) -> None:
    """Recompute the hash chain: exit 0 if intact, 1 naming the first changed or missing entry."""
    with open_project(project) as app:
        ctx = _context(app, tenant)
        check = app.audit.verify(ctx=ctx)
    if check.ok:
        console.print(f"ok, {check.entries} entries", highlight=False)
        return
    err_console.print(
        f"[bold red]audit log of tenant {ctx.tenant} is broken at entry "
        f"{check.first_bad_seq}:[/] {check.reason}. "
        f"{check.entries} entries before it are intact.",
        highlight=False,
    )
    raise typer.Exit(1)


# ---------------------------------------------------------------- token


def token_create(
    user: Annotated[str, typer.Option("--user", "-u", help="A user of the tenant.")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Print a bearer token from the development issuer for a user, with its roles."""
    with open_project(project) as app:
        issuer = app.dev_issuer  # ConfigError (exit 2) when it is off
        ctx = _context(app, tenant)
        found = app.identities.user_named(user, ctx=ctx)
        if found.disabled:
            raise Forbidden(
                f"User {user!r} is disabled; no token is issued for it.",
                hint="Use another user, or enable this one through the API.",
            )
        token = issuer.create_token(
            tenant=ctx.tenant, user=found.name, roles=found.roles, attributes=found.attributes
        )
        expires_at = app.clock.now() + timedelta(seconds=app.settings.auth.dev_issuer.ttl_s)
    if fmt is not OutputFormat.table:
        row = {
            "token": token,
            "tenant": ctx.tenant,
            "user": found.name,
            "roles": found.roles,
            "attributes": found.attributes,
            "expires_at": expires_at,
        }
        render([row], fmt)
        return
    typer.echo(token)
    attributes = ", ".join(f"{k}={v}" for k, v in sorted(found.attributes.items()))
    err_console.print(
        f"[yellow]note:[/] development token for {found.name} in tenant {ctx.tenant} "
        f"(roles: {', '.join(found.roles) or 'none'}; attributes: {attributes or 'none'}), "
        f"valid until {expires_at.isoformat(timespec='seconds')}. "
        "Send it as 'Authorization: Bearer <token>'.",
        highlight=False,
    )


# ---------------------------------------------------------------- registration


def register(app: typer.Typer) -> None:
    """Add the command groups to the root app."""
    groups: dict[str, tuple[str, dict[str, Any]]] = {
        "tenants": (
            "Tenants: the isolation boundary.",
            {"list": tenants_list, "create": tenants_create},
        ),
        "users": (
            "Users of a tenant, their roles and attributes.",
            {"list": users_list, "create": users_create, "disable": users_disable},
        ),
        "keys": (
            "API keys: shown once, stored hashed.",
            {"create": keys_create, "list": keys_list, "revoke": keys_revoke},
        ),
        "roles": (
            "Roles as permission sets.",
            {"list": roles_list, "set": roles_set, "delete": roles_delete},
        ),
        "policies": (
            "Row policies and column masks.",
            {"list": policies_list, "set": policies_set, "delete": policies_delete},
        ),
        "audit": (
            "The tamper-evident audit log.",
            {"list": audit_list, "verify": audit_verify},
        ),
        "token": (
            "Development bearer tokens (when auth.dev_issuer.enabled).",
            {"create": token_create},
        ),
    }
    for group_name, (help_text, commands) in groups.items():
        group = typer.Typer(help=help_text, no_args_is_help=True)
        for command_name, function in commands.items():
            group.command(command_name)(function)
        app.add_typer(group, name=group_name)
