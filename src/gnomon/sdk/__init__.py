"""The Python client of gnomon's REST API: ``Client(url, api_key=…)``.

>>> from gnomon.sdk import Client
>>> with Client("http://127.0.0.1:8080", api_key="gnm_…") as gnomon:  # doctest: +SKIP
...     gnomon.metrics_query(["revenue"], by=["region"], grain="month").to_dicts()

It imports only ``httpx`` (and nothing of gnomon's server side), so it works wherever the server
is reached over HTTP.
"""

from gnomon.sdk.client import ApiError, Client, ConnectionFailed, Result

__all__ = ["ApiError", "Client", "ConnectionFailed", "Result"]
