"""Change counters: the generation of every scope, read in one statement."""

from sqlalchemy import select

from gnomon.catalog.models import Change
from gnomon.catalog.repositories._base import Repository


class ChangeRepository(Repository):
    """Reads the generations that writes move (see :meth:`Repository._changed`)."""

    __slots__ = ()

    def generations(self) -> dict[str, int]:
        """Every scope's generation; a scope never written is absent (generation 0)."""
        rows = self._session.execute(select(Change.scope, Change.generation))
        return {scope: int(generation) for scope, generation in rows}
