-- gnomon:
--   description: Monthly revenue and orders per region, from the daily mart.
--   owner: analytics@example.com
SELECT
    DATE_TRUNC('month', day) AS month,
    region,
    SUM(orders)              AS orders,
    SUM(revenue)             AS revenue,
    SUM(returned_orders)     AS returned_orders
FROM gold.daily_sales
GROUP BY ALL
