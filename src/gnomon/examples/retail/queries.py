"""Twenty metric queries over the demo's KPIs: a dashboard's worth, every metric kind and grain.

They are plain arguments of ``Gnomon.query`` (this package sits below the semantic layer), used
by the engine parity tests and the query benchmarks, so both measure the same realistic work.
The demo data spans 2024-01-01 to 2025-12-31.
"""

from typing import Any

__all__ = ["DASHBOARD_QUERIES"]

_H1 = {"start": "2025-01-01", "end": "2025-06-30"}
_YEAR = {"start": "2025-01-01", "end": "2025-12-31"}
_ALL = {"start": "2024-01-01", "end": "2025-12-31"}

DASHBOARD_QUERIES: tuple[dict[str, Any], ...] = (
    {"name": "revenue_by_month", "metrics": ["revenue"], "grain": "month", **_ALL},
    {"name": "kpis_by_month", "metrics": ["revenue", "orders", "average_order_value"],
     "grain": "month", **_YEAR},
    {"name": "revenue_by_region_week", "metrics": ["revenue"], "by": ["region"], "grain": "week",
     **_H1},
    {"name": "aov_by_channel_quarter", "metrics": ["average_order_value"], "by": ["channel"],
     "grain": "quarter", **_ALL},
    {"name": "return_rate_by_category", "metrics": ["return_rate"], "by": ["category"], **_YEAR},
    {"name": "customers_by_month", "metrics": ["distinct_customers"], "grain": "month", **_YEAR},
    {"name": "revenue_7d_daily", "metrics": ["revenue", "revenue_7d"], "grain": "day", **_H1},
    {"name": "revenue_yoy_monthly", "metrics": ["revenue_yoy"], "grain": "month", **_YEAR},
    {"name": "revenue_mom_by_region", "metrics": ["revenue_mom"], "by": ["region"],
     "grain": "month", **_YEAR},
    {"name": "revenue_ytd_weekly", "metrics": ["revenue_ytd"], "grain": "week", **_YEAR},
    {"name": "per_customer_quarter", "metrics": ["revenue_per_customer"], "grain": "quarter",
     **_ALL},
    {"name": "web_revenue_daily", "metrics": ["web_revenue"], "grain": "day", **_H1},
    {"name": "baskets_by_channel", "metrics": ["median_basket", "p90_basket"], "by": ["channel"],
     **_YEAR},
    {"name": "top_countries", "metrics": ["revenue", "orders"], "by": ["country"],
     "order": ["-revenue"], "limit": 5, **_YEAR},
    {"name": "emea_web_by_month", "metrics": ["revenue", "orders"], "grain": "month",
     "where": "region = 'EMEA' AND channel = 'web'", **_YEAR},
    {"name": "region_channel_matrix", "metrics": ["revenue", "average_order_value"],
     "by": ["region", "channel"], **_YEAR},
    {"name": "order_size_by_quarter", "metrics": ["orders", "returned_orders"],
     "by": ["order_size"], "grain": "quarter", **_ALL},
    {"name": "fiscal_years", "metrics": ["revenue", "orders"], "grain": "fiscal_year", **_ALL},
    {"name": "category_month_h1", "metrics": ["revenue"], "by": ["category"], "grain": "month",
     **_H1},
    {"name": "totals", "metrics": ["revenue", "orders", "average_order_value", "return_rate",
                                   "distinct_customers"], **_ALL},
)  # fmt: skip
