"""Cursor pagination: opaque, signed, bound to one tenant and one listing.

A cursor carries the last key of a page, the listing it belongs to and the tenant, signed with
the project secret. A cursor that was changed, comes from another listing or another tenant is
refused (422): a cursor cannot be used to read another tenant's rows.
"""

import base64
import hashlib
import hmac
import json
from typing import Any

from gnomon.errors import InvalidInput

__all__ = ["CursorCodec"]


class CursorCodec:
    """Makes and reads cursors with ``secret``."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"gnomon-cursor:" + secret).digest()

    def encode(self, *, tenant: str, listing: str, after: Any) -> str:
        """A cursor for the page after ``after`` in ``listing`` of ``tenant``."""
        payload = json.dumps({"t": tenant, "l": listing, "a": after}, separators=(",", ":"))
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def decode(self, cursor: str | None, *, tenant: str, listing: str) -> Any:
        """The key a cursor points after, or ``None`` for the first page.

        Raises:
            InvalidInput: the cursor is malformed, tampered with, or not for this listing/tenant.
        """
        if cursor is None or cursor == "":
            return None
        body, _, signature = cursor.partition(".")
        if (
            not signature
            or not cursor.isascii()
            or not hmac.compare_digest(signature, self._sign(body))
        ):
            raise _bad()
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError as exc:
            raise _bad() from exc
        if not isinstance(data, dict) or data.get("t") != tenant or data.get("l") != listing:
            raise _bad()
        return data.get("a")

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()


def _bad() -> InvalidInput:
    return InvalidInput(
        "The cursor is not valid for this listing.",
        hint="Use the next_cursor of the previous page as it is, or start without a cursor.",
    )
