"""One router per capability; :data:`ROUTERS` is what the app includes."""

from fastapi import APIRouter

from gnomon.api.routes import admin, catalog, health, metrics, query

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    query.router,
    catalog.router,
    metrics.router,
    admin.router,
)
