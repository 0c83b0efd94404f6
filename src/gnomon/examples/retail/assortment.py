"""The fixed world the orders happen in: regions, countries, channels, categories, products.

The world does not depend on the seed: two data sets generated with different seeds differ in
their orders and incidents, never in which products exist or what they cost, so a demo project's
contracts and metrics fit every seed. Weights are relative and need not sum to one.
"""

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "COUNTRIES",
    "REGIONS",
    "Category",
    "Country",
    "Product",
    "Tables",
    "build_tables",
]


@dataclass(frozen=True, slots=True)
class Country:
    """A market: its region, relative order volume and UTC offset (standard time, minutes)."""

    code: str
    region: str
    weight: float
    utc_offset_minutes: int


@dataclass(frozen=True, slots=True)
class Product:
    """A product and its list price in cents."""

    name: str
    base_price_cents: int


@dataclass(frozen=True, slots=True)
class Category:
    """A product category.

    Attributes:
        name: the category as written in the data.
        return_rate: share of shipped orders that come back.
        seasonality: how strongly the category follows the yearly curve (1 = fully, 0 = flat).
        bulk: whether baskets hold several units (groceries), shifting quantities up.
        products: the products, most popular first.
    """

    name: str
    return_rate: float
    seasonality: float
    bulk: bool
    products: tuple[Product, ...]


REGIONS: Final[tuple[str, ...]] = ("EMEA", "AMER", "APAC")

COUNTRIES: Final[tuple[Country, ...]] = (
    Country("DE", "EMEA", 9.0, 60),
    Country("GB", "EMEA", 8.0, 0),
    Country("FR", "EMEA", 6.5, 60),
    Country("IT", "EMEA", 4.5, 60),
    Country("ES", "EMEA", 4.0, 60),
    Country("NL", "EMEA", 2.5, 60),
    Country("US", "AMER", 26.0, -300),
    Country("CA", "AMER", 4.0, -300),
    Country("BR", "AMER", 4.5, -180),
    Country("MX", "AMER", 3.0, -360),
    Country("JP", "APAC", 7.0, 540),
    Country("AU", "APAC", 3.5, 600),
    Country("IN", "APAC", 6.0, 330),
    Country("SG", "APAC", 1.5, 480),
)

CHANNELS: Final[tuple[str, ...]] = ("web", "app", "store", "marketplace")


def _products(*items: tuple[str, float]) -> tuple[Product, ...]:
    return tuple(Product(name, round(price * 100)) for name, price in items)


CATEGORIES: Final[tuple[Category, ...]] = (
    Category(
        "electronics",
        0.08,
        1.2,
        False,
        _products(
            ("USB-C Charger", 24.99),
            ("Wireless Earbuds", 79.00),
            ("Power Bank", 34.99),
            ("Bluetooth Speaker", 59.99),
            ("Gaming Mouse", 49.99),
            ("Smartwatch", 249.00),
            ("Smartphone", 649.00),
            ("Tablet", 399.00),
            ("Noise-Cancelling Headphones", 279.00),
            ("4K Monitor", 329.00),
            ("Laptop", 1099.00),
        ),
    ),
    Category(
        "home",
        0.06,
        1.0,
        False,
        _products(
            ("Scented Candle", 12.50),
            ("Storage Box", 14.99),
            ("Throw Pillow", 19.99),
            ("Bath Towel Set", 39.99),
            ("Table Lamp", 44.50),
            ("Kitchen Knife", 34.00),
            ("Bed Linen", 59.00),
            ("Coffee Maker", 89.99),
            ("Cookware Set", 129.00),
            ("Vacuum Cleaner", 199.00),
        ),
    ),
    Category(
        "fashion",
        0.24,
        1.0,
        False,
        _products(
            ("T-Shirt", 19.99),
            ("Socks 3-Pack", 9.99),
            ("Jeans", 59.90),
            ("Sneakers", 89.00),
            ("Hoodie", 44.90),
            ("Summer Dress", 49.90),
            ("Leather Belt", 29.90),
            ("Wool Scarf", 24.90),
            ("Ankle Boots", 119.00),
            ("Winter Jacket", 149.00),
        ),
    ),
    Category(
        "beauty",
        0.04,
        0.9,
        False,
        _products(
            ("Shampoo", 7.49),
            ("Face Cream", 24.90),
            ("Body Lotion", 9.99),
            ("Lipstick", 16.50),
            ("Mascara", 12.90),
            ("Sunscreen", 14.90),
            ("Nail Polish", 6.50),
            ("Perfume", 69.00),
            ("Hair Dryer", 49.99),
        ),
    ),
    Category(
        "sports",
        0.08,
        0.5,
        False,
        _products(
            ("Water Bottle", 14.99),
            ("Yoga Mat", 29.99),
            ("Running Shoes", 109.00),
            ("Football", 24.99),
            ("Swim Goggles", 17.50),
            ("Fitness Tracker", 99.00),
            ("Dumbbell Set", 79.00),
            ("Cycling Helmet", 59.00),
            ("Tennis Racket", 89.00),
        ),
    ),
    Category(
        "toys",
        0.05,
        1.8,
        False,
        _products(
            ("Building Blocks", 49.99),
            ("Plush Bear", 24.99),
            ("Puzzle 1000 Pieces", 19.99),
            ("Board Game", 34.99),
            ("Art Set", 22.50),
            ("RC Car", 59.99),
            ("Toy Train", 44.99),
            ("Doll House", 89.00),
        ),
    ),
    Category(
        "grocery",
        0.01,
        0.35,
        True,
        _products(
            ("Pasta 500g", 1.89),
            ("Dark Chocolate", 2.99),
            ("Sparkling Water 6-Pack", 4.99),
            ("Breakfast Cereal", 4.29),
            ("Coffee Beans 1kg", 18.90),
            ("Olive Oil", 9.49),
            ("Rice 2kg", 5.99),
            ("Green Tea", 5.49),
            ("Honey", 7.99),
            ("Mixed Nuts", 8.99),
        ),
    ),
    Category(
        "books",
        0.03,
        0.9,
        False,
        _products(
            ("Novel Paperback", 12.99),
            ("Science Fiction Paperback", 10.99),
            ("Children's Picture Book", 14.99),
            ("Cookbook", 29.99),
            ("Self-Help", 16.99),
            ("Comic Album", 18.50),
            ("Travel Guide", 22.00),
            ("Biography Hardcover", 27.50),
            ("Language Course", 34.90),
        ),
    ),
)

_CHANNEL_MIX: Final = {
    "EMEA": (0.42, 0.22, 0.22, 0.14),
    "AMER": (0.38, 0.25, 0.17, 0.20),
    "APAC": (0.30, 0.38, 0.17, 0.15),
}
"""Share of each channel (web, app, store, marketplace) in a region's orders."""

_CATEGORY_MIX: Final = (
    (0.18, 0.15, 0.20, 0.10, 0.09, 0.07, 0.11, 0.10),
    (0.13, 0.10, 0.24, 0.13, 0.08, 0.07, 0.18, 0.07),
    (0.08, 0.14, 0.18, 0.12, 0.10, 0.08, 0.24, 0.06),
    (0.26, 0.16, 0.13, 0.07, 0.10, 0.10, 0.05, 0.13),
)
"""Share of each category in a channel's orders; rows follow CHANNELS, columns CATEGORIES."""

_CHANNEL_PRICE: Final = (1.0, 0.99, 1.03, 0.96)
"""Price level per channel: marketplaces undercut, stores charge a little more."""

_HOURS: Final = (
    (1.2, 0.7, 0.4, 0.3, 0.3, 0.5, 1.2, 2.2, 3.2, 3.8, 4.2, 4.6,
     4.9, 4.8, 4.7, 4.7, 4.9, 5.2, 5.8, 6.6, 7.2, 7.0, 5.4, 2.9),
    (1.8, 1.0, 0.5, 0.3, 0.3, 0.5, 1.5, 3.0, 3.4, 3.2, 3.3, 3.8,
     5.0, 4.6, 3.6, 3.4, 3.6, 4.2, 5.2, 6.4, 7.4, 7.8, 6.8, 4.0),
    (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.8, 3.6, 5.4, 6.6,
     7.2, 6.6, 5.8, 5.6, 6.2, 7.0, 7.4, 6.0, 3.6, 1.2, 0.0, 0.0),
    (1.6, 1.0, 0.6, 0.5, 0.5, 0.7, 1.3, 2.2, 3.0, 3.6, 4.0, 4.4,
     4.7, 4.6, 4.5, 4.5, 4.7, 5.0, 5.4, 6.0, 6.4, 6.2, 4.9, 3.0),
)  # fmt: skip
"""Local hour-of-day profile per channel: evenings online, lunch and evening in the app, and
opening hours (08-22) in stores."""

_QUANTITY: Final = (
    (0.60, 0.22, 0.08, 0.04, 0.025, 0.015, 0.008, 0.006, 0.004, 0.002),
    (0.30, 0.25, 0.15, 0.10, 0.07, 0.05, 0.03, 0.02, 0.02, 0.01),
)
"""Probability of 1 … 10 units in an order line, for ordinary and for bulk categories."""

_DISCOUNTS: Final = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50)
_DISCOUNT_ODDS: Final = (
    (0.78, 0.06, 0.06, 0.03, 0.03, 0.015, 0.01, 0.0035, 0.0015),
    (0.35, 0.10, 0.15, 0.10, 0.12, 0.08, 0.06, 0.03, 0.01),
)
"""Probability of each discount level on an ordinary day and on a promotion day."""

_PRODUCT_POPULARITY_EXPONENT: Final = 0.8
"""Products are picked with weight 1 / rank ** exponent within their category."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Tables:
    """The world as arrays, indexed by position in COUNTRIES, CHANNELS, CATEGORIES.

    A segment is one (country, channel, category) triple, numbered
    ``(country * n_channels + channel) * n_categories + category``.
    """

    region_names: tuple[str, ...]
    country_codes: tuple[str, ...]
    country_region: Ints
    country_weight: Floats
    country_offset_seconds: Ints
    channel_names: tuple[str, ...]
    channel_mix: Floats
    channel_price: Floats
    hour_cdf: Floats
    category_names: tuple[str, ...]
    category_mix: Floats
    category_return_rate: Floats
    category_seasonality: Floats
    category_quantity_profile: Ints
    product_names: tuple[str, ...]
    product_price_cents: Ints
    product_cdf: Floats
    product_index: Ints
    quantity_cdf: Floats
    discount_levels: tuple[float, ...]
    discount_cdf: Floats

    @property
    def n_segments(self) -> int:
        """Number of (country, channel, category) segments."""
        return len(self.country_codes) * len(self.channel_names) * len(self.category_names)

    def split_segment(self, segment: Ints) -> tuple[Ints, Ints, Ints]:
        """Country, channel and category positions of segment numbers."""
        n_channels = len(self.channel_names)
        n_categories = len(self.category_names)
        category = segment % n_categories
        channel = (segment // n_categories) % n_channels
        country = segment // (n_categories * n_channels)
        return country, channel, category


def _cdf(weights: Floats) -> Floats:
    """Cumulative distribution of each row of ``weights``, ending at exactly 1."""
    totals = weights.sum(axis=-1, keepdims=True)
    cdf = np.cumsum(weights / totals, axis=-1)
    cdf[..., -1] = 1.0
    return cdf


def build_tables() -> Tables:
    """Turn the world's constants into the arrays the generator samples from."""
    n_products = max(len(category.products) for category in CATEGORIES)
    popularity = np.zeros((len(CATEGORIES), n_products))
    product_index = np.zeros((len(CATEGORIES), n_products), dtype=np.int64)
    names: list[str] = []
    prices: list[int] = []
    for position, category in enumerate(CATEGORIES):
        count = len(category.products)
        ranks = np.arange(1, count + 1, dtype=np.float64)
        popularity[position, :count] = ranks**-_PRODUCT_POPULARITY_EXPONENT
        product_index[position, :count] = np.arange(len(names), len(names) + count)
        product_index[position, count:] = len(names) + count - 1
        names.extend(product.name for product in category.products)
        prices.extend(product.base_price_cents for product in category.products)
    return Tables(
        region_names=REGIONS,
        country_codes=tuple(country.code for country in COUNTRIES),
        country_region=np.array([REGIONS.index(c.region) for c in COUNTRIES], dtype=np.int64),
        country_weight=np.array([c.weight for c in COUNTRIES]),
        country_offset_seconds=np.array(
            [c.utc_offset_minutes * 60 for c in COUNTRIES], dtype=np.int64
        ),
        channel_names=CHANNELS,
        channel_mix=np.array([_CHANNEL_MIX[region] for region in REGIONS]),
        channel_price=np.array(_CHANNEL_PRICE),
        hour_cdf=_cdf(np.array(_HOURS)),
        category_names=tuple(category.name for category in CATEGORIES),
        category_mix=np.array(_CATEGORY_MIX),
        category_return_rate=np.array([category.return_rate for category in CATEGORIES]),
        category_seasonality=np.array([category.seasonality for category in CATEGORIES]),
        category_quantity_profile=np.array(
            [1 if category.bulk else 0 for category in CATEGORIES], dtype=np.int64
        ),
        product_names=tuple(names),
        product_price_cents=np.array(prices, dtype=np.int64),
        product_cdf=_cdf(popularity),
        product_index=product_index,
        quantity_cdf=_cdf(np.array(_QUANTITY)),
        discount_levels=_DISCOUNTS,
        discount_cdf=_cdf(np.array(_DISCOUNT_ODDS)),
    )
