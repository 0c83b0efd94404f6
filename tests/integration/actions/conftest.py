"""Real local receivers for the channels: an HTTP server on the test's loop and an SMTP server."""

from collections.abc import AsyncIterator

import pytest

from tests.integration.actions.receiver import Receiver


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    try:
        yield server
    finally:
        await server.stop()
