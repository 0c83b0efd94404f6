"""One router per capability; :data:`ROUTERS` is what the app includes."""

from fastapi import APIRouter

from gnomon.api.routes import admin, catalog, explain, health, insights, metrics, query, triggers

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    query.router,
    catalog.router,
    metrics.router,
    insights.router,
    explain.router,
    triggers.router,
    admin.router,
)
