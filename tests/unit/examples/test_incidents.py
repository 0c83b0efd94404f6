import itertools
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.examples.retail import (
    HISTORY_DAYS,
    INCIDENT_KINDS,
    GenerationResult,
    Incident,
    read_incidents,
)
from gnomon.examples.retail.assortment import build_tables
from gnomon.examples.retail.demand import build_calendar
from gnomon.examples.retail.incidents import minimum_days, plan_incidents

TABLES = build_tables()


def _plan(seed: int, days: int = 731, start: date = date(2024, 1, 1)):
    calendar = build_calendar(start, days)
    return calendar, plan_incidents(calendar, TABLES, rng=np.random.default_rng(seed))


def _segment_cells(segment) -> np.ndarray:
    country, channel, category = TABLES.split_segment(np.arange(TABLES.n_segments))
    values = {
        "region": np.array(TABLES.region_names)[TABLES.country_region[country]],
        "country": np.array(TABLES.country_codes)[country],
        "channel": np.array(TABLES.channel_names)[channel],
        "category": np.array(TABLES.category_names)[category],
    }
    inside = np.ones(TABLES.n_segments, dtype=bool)
    for key, value in segment.items():
        inside &= values[key] == value
    return inside


def _same_weekday_median(daily: np.ndarray, day: int, weeks: int = 8) -> float:
    return float(np.median([daily[day - 7 * week] for week in range(1, weeks + 1)]))


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**63),
    days=st.integers(minimum_days(), 1_100),
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
)
def test_incidents_are_apart_after_the_history_and_inside_the_window(
    seed: int, days: int, start: date
) -> None:
    calendar, plan = _plan(seed, days, start)

    assert sorted(incident.kind for incident in plan.incidents) == sorted(INCIDENT_KINDS)
    starts = [incident.start for incident in plan.incidents]
    assert starts == sorted(starts)
    assert plan.incidents[0].start >= calendar.start + timedelta(days=HISTORY_DAYS)
    assert plan.incidents[-1].end <= calendar.end - timedelta(days=7)
    for earlier, later in itertools.pairwise(plan.incidents):
        assert later.start - earlier.end >= timedelta(days=14)
    for incident in plan.incidents:
        assert incident.end > incident.start
        if incident.kind != "gradual_decline" and days >= 300:
            first = (incident.start - calendar.start).days
            assert not calendar.special[first : first + incident.days].any()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**63))
def test_the_multipliers_applied_are_exactly_the_effects_described(seed: int) -> None:
    calendar, plan = _plan(seed)
    expected_orders = np.ones_like(plan.orders)
    expected_price = np.ones_like(plan.price)

    for incident in plan.incidents:
        first = (incident.start - calendar.start).days
        stop = (incident.end - calendar.start).days
        cells = _segment_cells(incident.segment)
        effect = incident.effect
        assert cells.any()
        if incident.kind == "pricing_error":
            assert effect["metric"] == "unit_price"
            category = TABLES.category_names.index(incident.segment["category"])
            expected_price[first:stop, category] *= effect["multiplier"]
            expected_orders[first:stop][:, cells] *= effect["orders_multiplier"]
        elif incident.kind == "gradual_decline":
            assert effect["metric"] == "orders"
            assert effect["ramp"] == "linear"
            assert effect["persists"] is True
            assert effect["ramp_days"] == incident.days
            for k in range(1, incident.days + 1):
                step = 1 - (1 - effect["multiplier"]) * k / effect["ramp_days"]
                expected_orders[first + k - 1, cells] *= step
            expected_orders[stop:][:, cells] *= effect["multiplier"]
        else:
            assert effect["metric"] == "orders"
            expected_orders[first:stop][:, cells] *= effect["multiplier"]

    np.testing.assert_allclose(plan.orders, expected_orders, rtol=0, atol=1e-12)
    np.testing.assert_allclose(plan.price, expected_price, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**63))
def test_effect_sizes_match_their_kind(seed: int) -> None:
    _, plan = _plan(seed)
    by_kind = {incident.kind: incident for incident in plan.incidents}

    outage = by_kind["outage"]
    assert set(outage.segment) == {"country", "channel"}
    assert 0.0 <= outage.effect["multiplier"] <= 0.1
    assert outage.days == 3
    pricing = by_kind["pricing_error"]
    assert set(pricing.segment) == {"category"}
    assert pricing.effect["multiplier"] == 0.1
    assert pricing.effect["orders_multiplier"] > 1
    assert pricing.days == 2
    decline = by_kind["gradual_decline"]
    assert set(decline.segment) == {"region"}
    assert decline.effect["multiplier"] == 0.7
    assert 42 <= decline.days <= 56
    spike = by_kind["spike"]
    assert set(spike.segment) == {"channel", "category"}
    assert spike.effect["multiplier"] == 3.0
    assert spike.days == 1


def _incident(result: GenerationResult, kind: str) -> Incident:
    return next(incident for incident in result.incidents if incident.kind == kind)


def test_outage_empties_its_segment(shared: GenerationResult, shared_orders) -> None:
    outage = _incident(shared, "outage")
    days = (shared.end - shared.start).days
    daily = shared_orders.daily(shared_orders.mask(outage.segment), days)
    first = (outage.start - shared.start).days

    ratios = [
        daily[day] / _same_weekday_median(daily, day) for day in range(first, first + outage.days)
    ]

    assert _same_weekday_median(daily, first) >= 5
    assert float(np.mean(ratios)) < 0.2
    assert max(ratios) < 0.5
    week_after = range(first + outage.days, first + outage.days + 7)
    recovered = sum(daily[day] for day in week_after)
    assert recovered > 0.6 * sum(_same_weekday_median(daily, day) for day in week_after)


def test_pricing_error_cuts_the_categorys_prices_tenfold(
    shared: GenerationResult, shared_orders
) -> None:
    incident = _incident(shared, "pricing_error")
    first = (incident.start - shared.start).days
    stop = (incident.end - shared.start).days
    inside = shared_orders.mask(incident.segment)
    day = shared_orders.day
    price = shared_orders.unit_price

    during = price[inside & (day >= first) & (day < stop)].mean()
    before = price[inside & (day >= first - 28) & (day < first)].mean()
    others = price[~inside & (day >= first) & (day < stop)].mean()
    others_before = price[~inside & (day >= first - 28) & (day < first)].mean()

    assert 0.08 < during / before < 0.12
    assert 0.9 < others / others_before < 1.1
    daily = shared_orders.daily(inside, (shared.end - shared.start).days)
    assert daily[first:stop].mean() > 1.2 * np.mean(
        [_same_weekday_median(daily, d) for d in range(first, stop)]
    )


def test_spike_triples_its_segment_for_a_day(shared: GenerationResult, shared_orders) -> None:
    spike = _incident(shared, "spike")
    daily = shared_orders.daily(shared_orders.mask(spike.segment), (shared.end - shared.start).days)
    day = (spike.start - shared.start).days

    assert daily[day] > 2 * _same_weekday_median(daily, day)
    assert daily[day + 7] < 1.6 * _same_weekday_median(daily, day + 7)


def test_gradual_decline_lowers_the_regions_share_and_stays(
    shared: GenerationResult, shared_orders
) -> None:
    decline = _incident(shared, "gradual_decline")
    first = (decline.start - shared.start).days
    stop = (decline.end - shared.start).days
    region = shared_orders.mask(decline.segment)
    day = shared_orders.day

    def share(low: int, high: int) -> float:
        """Orders in the region per order elsewhere: seasonality and trend cancel out."""
        window = (day >= low) & (day < high)
        return (region & window).sum() / (~region & window).sum()

    after = min(28, (shared.end - decline.end).days)
    middle = first + decline.days // 2
    ratio_after = share(stop, stop + after) / share(first - 28, first)
    ratio_middle = share(middle - 3, middle + 4) / share(first - 28, first)
    assert 0.6 < ratio_after < 0.8
    assert ratio_after < ratio_middle < 0.95


def test_incidents_file_holds_the_returned_ground_truth(shared: GenerationResult) -> None:
    entries = json.loads(shared.incidents_file.read_text(encoding="utf-8"))

    assert read_incidents(shared.incidents_file) == shared.incidents
    assert [entry["kind"] for entry in entries] == [i.kind for i in shared.incidents]
    for entry, incident in zip(entries, shared.incidents, strict=True):
        assert list(entry) == ["kind", "start", "end", "segment", "effect"]
        assert entry["start"] == incident.start.isoformat()
        assert entry["end"] == incident.end.isoformat()
        assert entry["segment"] == dict(incident.segment)
        assert entry["effect"] == dict(incident.effect)


_SEGMENTS = st.dictionaries(
    st.sampled_from(["region", "country", "channel", "category"]),
    st.text(min_size=1, max_size=12),
    min_size=1,
)
_EFFECTS = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.one_of(
        st.booleans(),
        st.integers(-1000, 1000),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    ),
)


@given(
    kind=st.sampled_from(INCIDENT_KINDS),
    start=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
    length=st.integers(1, 400),
    segment=_SEGMENTS,
    effect=_EFFECTS,
)
def test_incidents_survive_a_json_round_trip(kind, start, length, segment, effect) -> None:
    incident = Incident(
        kind=kind, start=start, end=start + timedelta(days=length), segment=segment, effect=effect
    )

    again = Incident.from_dict(json.loads(json.dumps(incident.to_dict())))

    assert again == incident
    assert hash(again) == hash(incident)
    assert again.days == length
    assert again.covers(start)
    assert not again.covers(incident.end)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"kind": "outage"}',
        "[1, 2]",
        '[{"kind": "meteor", "start": "2024-01-01", "end": "2024-01-02", '
        '"segment": {}, "effect": {}}]',
        '[{"kind": "outage", "start": "yesterday", "end": "2024-01-02", '
        '"segment": {}, "effect": {}}]',
        '[{"kind": "outage", "start": "2024-01-01", "end": "2024-01-02"}]',
    ],
)
def test_malformed_incident_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "incidents.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InvalidInput) as caught:
        read_incidents(path)

    assert caught.value.hint


def test_a_missing_incident_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot be read"):
        read_incidents(tmp_path / "absent.json")


def test_unknown_kinds_list_the_known_ones() -> None:
    entry = {
        "kind": "meteor",
        "start": "2024-01-01",
        "end": "2024-01-02",
        "segment": {},
        "effect": {},
    }

    with pytest.raises(InvalidInput) as caught:
        Incident.from_dict(entry)

    assert all(kind in caught.value.hint for kind in INCIDENT_KINDS)
