"""Liveness and readiness: ``/healthz`` (the process answers), ``/readyz`` (catalog and lake)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gnomon.api.security import public

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[public()])
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[public()], response_model=None)
async def readyz(request: Request) -> Any:
    """The catalog answers and the lake's root can be listed; 503 with the failing check if not."""
    app = request.app.state.gnomon.app
    checks = await run_in_threadpool(app.readiness)
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse(
        status_code=200 if ok else 503,
        content={"status": "ready" if ok else "not ready", "checks": checks},
    )
