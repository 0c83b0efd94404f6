-- gnomon:
--   description: Daily orders, units and net revenue by region, country, channel and category.
--   owner: analytics@example.com
SELECT
    CAST(order_time AS DATE)                                        AS day,
    region,
    country,
    channel,
    category,
    COUNT(*)                                                        AS orders,
    COUNT(DISTINCT customer_id)                                     AS customers,
    SUM(quantity)                                                   AS units,
    SUM(quantity * unit_price * (1 - COALESCE(discount, 0)))        AS revenue,
    COUNT(*) FILTER (WHERE status = 'returned')                     AS returned_orders
FROM silver.orders
WHERE status <> 'cancelled'
GROUP BY ALL
