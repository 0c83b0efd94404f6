"""Users: the people and service accounts of a tenant, with their roles and attributes.

The catalog stores who a user is; what the user may do is decided by governance from the roles
and attributes kept here. A user of another tenant is reported exactly as a missing one, so an id
guessed across tenants discloses nothing.
"""

import builtins
import copy
import uuid
from typing import Any

from sqlalchemy import delete, select

from gnomon.catalog.errors import UserNotFound
from gnomon.catalog.models import User
from gnomon.catalog.records import UserRecord
from gnomon.catalog.repositories._base import (
    Repository,
    require_json_object,
    require_limit,
    require_name,
    require_names,
)
from gnomon.errors import Conflict, InvalidInput

__all__ = ["UserRepository"]

_NAME_EXAMPLE = "emea@acme"
_ROLE_EXAMPLE = "analyst"
_ATTRIBUTES_EXAMPLE = '{"region": "EMEA", "department": "sales"}'


def _record(row: User) -> UserRecord:
    return UserRecord(
        id=row.id,
        tenant=row.tenant_id,
        name=row.name,
        display_name=row.display_name,
        roles=list(row.roles),
        attributes=copy.deepcopy(row.attributes),
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _display_name(value: str | None) -> str | None:
    if value is None:
        return None
    return require_name(value, field="display name", example="EMEA analyst")


def user_not_found(user_id: str, tenant: str) -> UserNotFound:
    """The error for a user id the tenant does not have, whether or not another tenant does."""
    return UserNotFound(
        f"Unknown user {user_id!r} for tenant {tenant!r}.",
        hint="Check the user id and the tenant; list the tenant's users to find it.",
        user_id=user_id,
        tenant=tenant,
    )


class UserRepository(Repository):
    """Users of one tenant, unique by name, identified by a generated id."""

    __slots__ = ()

    def create(
        self,
        *,
        tenant: str,
        name: str,
        roles: builtins.list[str],
        attributes: dict[str, Any] | None = None,
        display_name: str | None = None,
    ) -> UserRecord:
        """Add a user, enabled, with a new id.

        Args:
            tenant: the user's tenant.
            name: the login name, unique in the tenant, e.g. ``emea@acme``.
            roles: names of built-in or custom roles; they are not checked here.
            attributes: facts policies refer to, e.g. ``{"region": "EMEA"}``; none by default.
            display_name: how the user is shown, if not by its name.

        Raises:
            InvalidInput: the name, a role, the display name or the attributes are invalid.
            Conflict: the tenant already has a user of that name.
            TenantNotFound: the tenant does not exist.
        """
        name = require_name(name, field="user name", example=_NAME_EXAMPLE)
        roles = require_names(roles, field="roles", example=_ROLE_EXAMPLE)
        attributes = require_json_object(
            {} if attributes is None else attributes,
            field="attributes",
            example=_ATTRIBUTES_EXAMPLE,
        )
        display_name = _display_name(display_name)
        self._require_tenant(tenant)
        self._changed(tenant)
        now = self._now()
        statement = (
            self._insert(User)
            .values(
                id=uuid.uuid4().hex,
                tenant_id=tenant,
                name=name,
                display_name=display_name,
                roles=roles,
                attributes=attributes,
                disabled=False,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[User.tenant_id, User.name])
        )
        row = self._session.scalars(
            statement.returning(User), execution_options={"populate_existing": True}
        ).one_or_none()
        if row is None:
            raise Conflict(
                f"Cannot create user {name!r}: tenant {tenant!r} already has a user of that name.",
                hint="Choose another name, or update the existing user.",
                tenant=tenant,
                name=name,
            )
        return _record(row)

    def get(self, *, tenant: str, user_id: str) -> UserRecord | None:
        """The tenant's user with this id, or ``None`` (also for another tenant's user)."""
        row = self._fresh(User, User.tenant_id == tenant, User.id == user_id)
        return None if row is None else _record(row)

    def by_name(self, *, tenant: str, name: str) -> UserRecord | None:
        """The tenant's user of this name, or ``None``."""
        row = self._fresh(User, User.tenant_id == tenant, User.name == name)
        return None if row is None else _record(row)

    def list(
        self, *, tenant: str, after: str | None = None, limit: int = 100
    ) -> builtins.list[UserRecord]:
        """One page of the tenant's users, ordered by name as plain strings.

        Args:
            tenant: the tenant.
            after: the name of the last user of the previous page; ``None`` for the first page.
            limit: at most this many users; a shorter page is the last one.

        Raises:
            InvalidInput: the limit is below 1.
        """
        require_limit(limit)
        name = self._bytewise(User.name)
        statement = select(User).where(User.tenant_id == tenant)
        if after is not None:
            statement = statement.where(name > after)
        rows = self._session.scalars(
            statement.order_by(name).limit(limit).execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]

    def update(
        self,
        *,
        tenant: str,
        user_id: str,
        roles: builtins.list[str] | None = None,
        attributes: dict[str, Any] | None = None,
        display_name: str | None = None,
        disabled: bool | None = None,
    ) -> UserRecord:
        """Replace the given fields; ``None`` leaves a field as it is.

        ``roles`` and ``attributes`` are replaced whole, not merged. ``updated_at`` moves only
        when something changed.

        Raises:
            InvalidInput: a role, the attributes, the display name or ``disabled`` are invalid.
            UserNotFound: the tenant has no user with that id.
        """
        changes: dict[str, Any] = {}
        if roles is not None:
            changes["roles"] = require_names(roles, field="roles", example=_ROLE_EXAMPLE)
        if attributes is not None:
            changes["attributes"] = require_json_object(
                attributes, field="attributes", example=_ATTRIBUTES_EXAMPLE
            )
        if display_name is not None:
            changes["display_name"] = _display_name(display_name)
        if disabled is not None:
            if not isinstance(disabled, bool):
                raise InvalidInput(
                    f"Invalid disabled flag {disabled!r}: it must be true or false.",
                    hint="Pass disabled=True to disable the user, False to enable it.",
                    field="disabled",
                )
            changes["disabled"] = disabled
        row = self._session.scalars(
            select(User)
            .where(User.tenant_id == tenant, User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if row is None:
            raise user_not_found(user_id, tenant)
        changed = {name: value for name, value in changes.items() if getattr(row, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(row, name, value)
            row.updated_at = self._now()
            self._session.flush()
            self._changed(tenant)
        return _record(row)

    def delete(self, *, tenant: str, user_id: str) -> bool:
        """Remove the user and, with it, every API key of the user.

        Returns:
            Whether the tenant had such a user.
        """
        removed = self._session.scalars(
            delete(User).where(User.tenant_id == tenant, User.id == user_id).returning(User.id)
        ).all()
        if removed:
            self._changed(tenant)
        return bool(removed)
