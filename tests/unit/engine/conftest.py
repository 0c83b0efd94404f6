"""Real Delta tables under a temporary lake, and snapshots of them as the engine reads them."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from gnomon.engine import TENANT_COLUMN, DuckDBEngine
from gnomon.errors import NotFound

TENANT = TENANT_COLUMN


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A TableSource built the way the lake builds its snapshots."""

    uri: str
    version: int
    schema: pa.Schema
    partition_columns: tuple[str, ...]
    files: tuple[str, ...]


class Lake:
    """Writes Delta tables at ``<root>/<layer>/<name>``, partitioned by tenant like gnomon's.

    ``ORDERS`` and ``CUSTOMERS`` use the same keys in three tenants, so a missing tenant filter
    shows up as extra rows in joins.
    """

    TENANTS = ("acme", "globex", "123")
    ORDERS = (
        {"order_id": 1, "customer_id": 10, "amount": 100.0, TENANT: "acme"},
        {"order_id": 2, "customer_id": 11, "amount": 50.0, TENANT: "acme"},
        {"order_id": 3, "customer_id": 10, "amount": 25.0, TENANT: "acme"},
        {"order_id": 1, "customer_id": 10, "amount": 999.0, TENANT: "globex"},
        {"order_id": 4, "customer_id": 12, "amount": 7.0, TENANT: "globex"},
        {"order_id": 5, "customer_id": 10, "amount": 1.0, TENANT: "123"},
    )
    CUSTOMERS = (
        {"customer_id": 10, "name": "Ann", TENANT: "acme"},
        {"customer_id": 11, "name": "Bob", TENANT: "acme"},
        {"customer_id": 10, "name": "Gina", TENANT: "globex"},
        {"customer_id": 12, "name": "Gus", TENANT: "globex"},
        {"customer_id": 10, "name": "Num", TENANT: "123"},
    )

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, layer: str, name: str) -> Path:
        return self.root / layer / name

    def write(
        self,
        layer: str,
        name: str,
        data: pa.Table | Sequence[Mapping[str, Any]],
        *,
        mode: str = "append",
        schema: pa.Schema | None = None,
    ) -> Snapshot:
        table = data if isinstance(data, pa.Table) else pa.Table.from_pylist(list(data), schema)
        path = self.path(layer, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if mode == "overwrite":
            write_deltalake(
                str(path), table, partition_by=[TENANT], mode="overwrite", schema_mode="merge"
            )
        else:
            write_deltalake(
                str(path), table, partition_by=[TENANT], mode="append", schema_mode="merge"
            )
        return self.snapshot(layer, name)

    def write_shop(self) -> None:
        """silver.orders and silver.customers."""
        self.write("silver", "orders", self.ORDERS)
        self.write("silver", "customers", self.CUSTOMERS)

    def snapshot(self, layer: str, name: str, version: int | None = None) -> Snapshot:
        path = self.path(layer, name)
        if not path.exists():
            raise NotFound(f"No table {layer}.{name}.", hint="Write it first.")
        table = DeltaTable(str(path), version=version)
        return Snapshot(
            uri=str(path),
            version=table.version(),
            schema=pa.schema(table.schema().to_arrow()),
            partition_columns=tuple(table.metadata().partition_columns),
            files=tuple(sorted(table.file_uris())),
        )


@pytest.fixture(scope="session")
def make_lake() -> Callable[[Path], Lake]:
    """Session-scoped so that module fixtures (for hypothesis tests) can build lakes too."""
    return Lake


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake")


@pytest.fixture
def engine(lake: Lake) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(threads=2, allowed_roots=[str(lake.root)]) as built:
        yield built


@pytest.fixture
def shop(lake: Lake) -> Lake:
    """A lake holding silver.orders and silver.customers."""
    lake.write_shop()
    return lake
