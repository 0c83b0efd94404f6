"""The REST API (FastAPI) under ``/api/v1``; OpenAPI at ``/api/v1/openapi.json``, docs beside it.

Build it with :func:`gnomon.api.app.create_app` over an open :class:`gnomon.app.Gnomon`;
``gnomon serve`` runs it with uvicorn.
"""
