"""A dispatcher in a process of its own, for the crash test; it runs until it is killed.

python tests/integration/actions/dispatch/worker.py CATALOG_URL HOOK_URL OWNER LEASE_S
"""

import asyncio
import sys
from datetime import timedelta

from gnomon.actions import Dispatcher, build_channel
from gnomon.catalog import Catalog

PER_ENDPOINT = 4
"""Sends in flight at once: as many requests as the receiver holds when the process dies."""


async def main(catalog_url: str, hook_url: str, owner: str, lease_s: str) -> None:
    catalog = Catalog(catalog_url)
    # Held requests must not time out before the kill: the test decides when this process dies.
    channel = build_channel("ops", {"kind": "webhook", "url": hook_url, "timeout_s": 300})
    dispatcher = Dispatcher(
        catalog,
        {"ops": channel},
        owner=owner,
        lease=timedelta(seconds=float(lease_s)),
        per_endpoint=PER_ENDPOINT,
        concurrency=PER_ENDPOINT,
    )
    await dispatcher.run(asyncio.Event(), poll_interval=0.05)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
