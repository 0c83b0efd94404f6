"""Grouping and digests: one notification per group per interval, digests per aligned period."""

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.triggers import RuleSpec
from gnomon.triggers.grouping import (
    MAX_LISTED,
    MAX_QUEUED,
    Batch,
    GroupItem,
    GroupState,
    alert_labels,
    group_values,
    summarise,
)
from gnomon.triggers.lifecycle import Alert, AlertState, fingerprint

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)
G = ("kpi_drop",)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _item(
    name: str = "a", state: AlertState = "firing", *, rule: str = "kpi_drop", at: float = 0
) -> GroupItem:
    return GroupItem(
        fingerprint=name,
        rule=rule,
        state=state,
        severity="warning",
        title=f"{name} is {state}",
        summary=f"details of {name}",
        labels={"rule": rule, "région": "Île-de-France"},
        at=_at(at),
    )


def _utc(day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """A time in March 2025, UTC."""
    return datetime(2025, 3, day, hour, minute, second, micro, tzinfo=UTC)


def _names(batches: list[Batch]) -> list[list[str]]:
    return [[i.fingerprint for i in b.items] for b in batches]


# ---------------------------------------------------------------------------- labels


def test_alert_labels_hold_rule_severity_labels_and_key_values() -> None:
    spec = RuleSpec.model_validate(
        {
            "on": "event",
            "condition": "true",
            "key": ["région", "shop"],
            "severity": "critical",
            "labels": {"team": "data", "shop": "default", "rule": "spoofed", "severity": "info"},
        }
    )
    alert = Alert(
        fingerprint=fingerprint("t", "kpi_drop", ("Île-de-France", "42")),
        tenant="t",
        rule="kpi_drop",
        key=("Île-de-France", "42"),
        state="firing",
        started_at=T0,
        last_active_at=T0,
    )
    labels = alert_labels(alert, spec)
    # Key values win over static labels; rule and severity cannot be overridden.
    assert labels == {
        "team": "data",
        "shop": "42",
        "région": "Île-de-France",
        "rule": "kpi_drop",
        "severity": "critical",
    }
    assert group_values(labels, ["rule", "région", "missing"]) == (
        "kpi_drop",
        "Île-de-France",
        "",
    )
    assert group_values(labels, []) == ()


def test_alert_labels_pair_what_lines_up_when_the_key_changed() -> None:
    spec = RuleSpec.model_validate({"on": "event", "condition": "true", "key": ["a", "b"]})
    alert = Alert("f", "t", "r", ("x",), "firing", T0, T0)
    assert alert_labels(alert, spec) == {"a": "x", "rule": "r", "severity": "warning"}


# ---------------------------------------------------------------------------- intervals


def test_the_first_change_is_sent_at_once_the_next_wait_for_the_interval() -> None:
    state = GroupState()
    [first] = state.offer("ops", G, _item("a"), _at(0), interval=FIVE)
    assert (first.items, first.at, first.digest, first.omitted) == ((_item("a"),), _at(0), False, 0)
    assert state.offer("ops", G, _item("b"), _at(1), interval=FIVE) == []
    assert state.offer("ops", G, _item("c"), _at(2), interval=FIVE) == []
    assert state.next_due() == _at(5)
    assert state.due(_at(4.99)) == []
    [batch] = state.due(_at(5))
    assert _names([batch]) == [["b", "c"]] and batch.at == _at(5)
    assert state.due(_at(6)) == []


@pytest.mark.parametrize(
    ("after", "sent"),
    [
        (FIVE - timedelta(microseconds=1), False),
        (FIVE, True),
        (FIVE + timedelta(microseconds=1), True),
    ],
)
def test_the_interval_boundary_is_inclusive(after: timedelta, sent: bool) -> None:
    state = GroupState()
    state.offer("ops", G, _item("a"), T0, interval=FIVE)
    assert state.offer("ops", G, _item("q"), T0 + timedelta(seconds=1), interval=FIVE) == []
    batches = state.offer("ops", G, _item("b"), T0 + after, interval=FIVE)
    # When the interval is up, the queued item goes out with the new one.
    assert _names(batches) == ([["q", "b"]] if sent else [])
    assert _names(state.due(T0 + after)) == []


def test_a_change_after_a_quiet_interval_is_sent_at_once_again() -> None:
    state = GroupState()
    state.offer("ops", G, _item("a"), _at(0), interval=FIVE)
    assert state.due(_at(30)) == []
    assert state.to_json() == {"groups": []}, "an idle group is forgotten"
    assert _names(state.offer("ops", G, _item("b"), _at(31), interval=FIVE)) == [["b"]]


def test_a_zero_interval_sends_every_change() -> None:
    state = GroupState()
    for n in range(3):
        assert len(state.offer("ops", G, _item(str(n)), _at(0), interval=timedelta(0))) == 1


def test_groups_are_apart_per_channel_and_group_values() -> None:
    state = GroupState()
    sent = [
        state.offer("ops", ("kpi_drop",), _item("a"), _at(0), interval=FIVE),
        state.offer("pager", ("kpi_drop",), _item("a"), _at(0), interval=FIVE),
        state.offer("ops", ("orders_gap",), _item("b"), _at(0), interval=FIVE),
        state.offer("ops", ("kpi_drop",), _item("c"), _at(1), interval=FIVE),
    ]
    assert [len(s) for s in sent] == [1, 1, 1, 0]
    assert [(b.channel, b.group) for b in sent[1] + sent[2]] == [
        ("pager", ("kpi_drop",)),
        ("ops", ("orders_gap",)),
    ]


def test_the_same_alert_twice_keeps_its_latest_state_in_arrival_order() -> None:
    state = GroupState()
    state.offer("ops", G, _item("x"), _at(0), interval=FIVE)
    state.offer("ops", G, _item("a", "firing"), _at(1), interval=FIVE)
    state.offer("ops", G, _item("b", "firing"), _at(2), interval=FIVE)
    state.offer("ops", G, _item("a", "resolved", at=3), _at(3), interval=FIVE)
    [batch] = state.due(_at(5))
    assert [(i.fingerprint, i.state) for i in batch.items] == [("b", "firing"), ("a", "resolved")]


def test_due_sends_earliest_first() -> None:
    state = GroupState()
    state.offer("ops", ("late",), _item("a"), _at(0), interval=FIVE)
    state.offer("ops", ("early",), _item("b"), _at(0), interval=timedelta(minutes=2))
    state.offer("ops", ("late",), _item("c"), _at(1), interval=FIVE)
    state.offer("ops", ("early",), _item("d"), _at(1), interval=timedelta(minutes=2))
    assert [b.group for b in state.due(_at(10))] == [("early",), ("late",)]
    assert state.next_due() is None


@pytest.mark.parametrize(
    ("interval", "digest"),
    [(timedelta(seconds=-1), None), (FIVE, timedelta(0)), (FIVE, timedelta(seconds=-5))],
)
def test_a_negative_interval_or_empty_digest_period_is_refused(
    interval: timedelta, digest: timedelta | None
) -> None:
    with pytest.raises(InvalidInput, match="is not valid"):
        GroupState().offer("ops", G, _item(), T0, interval=interval, digest=digest)


# ---------------------------------------------------------------------------- digests


@pytest.mark.parametrize(
    ("first", "period", "due"),
    [
        (_utc(1, 23, 59, 59), timedelta(days=1), _utc(2)),
        (_utc(1), timedelta(days=1), _utc(2)),
        (_utc(1, 12), timedelta(hours=1), _utc(1, 13)),
        (_utc(1, 12, 59, 59, 999_999), timedelta(hours=1), _utc(1, 13)),
        (_utc(1, 12, 7), timedelta(minutes=15), _utc(1, 12, 15)),
        # Weeks are aligned to the epoch, a Thursday: 2025-02-27 and 2025-03-06 are Thursdays.
        (_utc(1, 12), timedelta(weeks=1), _utc(6)),
        # A time given in another zone is placed by its instant.
        (_utc(2, 0, 30).astimezone(timezone(timedelta(hours=5))), timedelta(days=1), _utc(3)),
        (_utc(1, 22).astimezone(timezone(timedelta(hours=5))), timedelta(days=1), _utc(2)),
    ],
)
def test_a_digest_is_due_at_the_end_of_the_aligned_period(
    first: datetime, period: timedelta, due: datetime
) -> None:
    state = GroupState()
    assert state.offer("ops", G, _item("a"), first, interval=FIVE, digest=period) == []
    assert state.next_due() == due
    assert state.due(due - timedelta(microseconds=1)) == []
    [batch] = state.due(due)
    assert batch.digest and batch.at == due and _names([batch]) == [["a"]]


def test_a_digest_collects_until_its_period_ends_even_past_the_interval() -> None:
    state = GroupState()
    day = timedelta(days=1)
    for n, minutes in enumerate([0, 60, 300, 600]):
        assert state.offer("ops", G, _item(str(n)), _at(minutes), interval=FIVE, digest=day) == []
    assert state.due(_at(700)) == []
    [batch] = state.due(datetime(2025, 3, 2, tzinfo=UTC))
    assert _names([batch]) == [["0", "1", "2", "3"]]
    # The next item starts a new period: due at the end of the day it arrived in.
    state.offer(
        "ops", G, _item("4"), datetime(2025, 3, 2, 9, tzinfo=UTC), interval=FIVE, digest=day
    )
    assert state.next_due() == datetime(2025, 3, 3, tzinfo=UTC)


def test_a_late_due_call_sends_the_whole_queue_once() -> None:
    state = GroupState()
    hour = timedelta(hours=1)
    state.offer("ops", G, _item("a"), _at(0), interval=FIVE, digest=hour)
    state.offer("ops", G, _item("b"), _at(90), interval=FIVE, digest=hour)
    assert _names(state.due(_at(120))) == [["a", "b"]]
    assert state.due(_at(180)) == []


# ---------------------------------------------------------------------------- bounds


def test_a_full_queue_drops_the_oldest_and_counts_them() -> None:
    state = GroupState()
    state.offer("ops", G, _item("sent"), _at(0), interval=FIVE)
    for n in range(MAX_QUEUED + 12):
        state.offer("ops", G, _item(f"i{n}"), _at(1), interval=FIVE)
    # A change to an alert already queued replaces it and drops nothing.
    state.offer("ops", G, _item("i500", "resolved"), _at(2), interval=FIVE)
    [batch] = state.due(_at(5))
    assert len(batch.items) == MAX_QUEUED and batch.omitted == 12
    assert batch.items[0].fingerprint == "i12" and batch.items[-1].state == "resolved"
    title, summary = summarise(batch)
    assert title == f"{MAX_QUEUED + 12} alerts for kpi_drop: 999 firing, 1 resolved, 12 more"
    lines = summary.splitlines()
    assert len(lines) == MAX_LISTED + 1
    assert lines[-1] == f"… and {MAX_QUEUED + 12 - MAX_LISTED} more"


# ---------------------------------------------------------------------------- summaries


def _batch(*items: GroupItem, omitted: int = 0) -> Batch:
    return Batch("ops", G, items, False, T0, omitted)


def test_one_item_is_told_as_itself() -> None:
    assert summarise(_batch(_item("a"))) == ("a is firing", "details of a")


@pytest.mark.parametrize(
    ("items", "omitted", "title"),
    [
        (
            [_item("a"), _item("b"), _item("c", "resolved")],
            0,
            "3 alerts for kpi_drop: 2 firing, 1 resolved",
        ),
        ([_item("a", "resolved"), _item("b", "resolved")], 0, "2 alerts for kpi_drop: 2 resolved"),
        ([_item("a")], 1, "2 alerts for kpi_drop: 1 firing, 1 more"),
        (
            [_item("a", rule="kpi_drop"), _item("b", rule="orders_gap")],
            0,
            "2 alerts for kpi_drop and orders_gap: 2 firing",
        ),
        (
            [_item("a", rule="r1"), _item("b", rule="r2"), _item("c", "pending", rule="r3")],
            0,
            "3 alerts for r1, r2 and r3: 2 firing, 1 pending",
        ),
        ([_item(str(n), rule=f"r{n}") for n in range(4)], 0, "4 alerts for 4 rules: 4 firing"),
    ],
)
def test_several_items_are_counted_by_state(
    items: list[GroupItem], omitted: int, title: str
) -> None:
    got_title, summary = summarise(_batch(*items, omitted=omitted))
    assert got_title == title
    lines = summary.splitlines()
    assert lines[: len(items)] == [f"- [{i.state}] {i.title} (warning)" for i in items]
    assert lines[len(items) :] == ([f"… and {omitted} more"] if omitted else [])


def test_summary_lists_a_few_and_counts_the_rest() -> None:
    items = [_item(f"i{n}") for n in range(MAX_LISTED + 1)]
    title, summary = summarise(_batch(*items))
    assert title == f"{MAX_LISTED + 1} alerts for kpi_drop: {MAX_LISTED + 1} firing"
    assert summary.splitlines()[-1] == "… and 1 more"


# ---------------------------------------------------------------------------- persistence


def test_json_round_trip_resumes_where_it_stopped() -> None:
    state = GroupState()
    day = timedelta(days=1)
    state.offer("ops", G, _item("a"), _at(0), interval=FIVE)
    state.offer("ops", G, _item("b", "resolved"), _at(1), interval=FIVE)
    state.offer("digest", ("kpi_drop", "Île"), _item("c"), _at(2), interval=FIVE, digest=day)
    data = json.loads(json.dumps(state.to_json()))
    restored = GroupState.from_json(data)
    assert restored.to_json() == data
    assert restored.next_due() == state.next_due() == _at(5)
    # Still within the interval after the restart: queued, not sent twice.
    assert restored.offer("ops", G, _item("d"), _at(2), interval=FIVE) == []
    assert _names(restored.due(_at(5))) == [["b", "d"]]
    [digest] = restored.due(datetime(2025, 3, 2, tzinfo=UTC))
    assert digest.digest and digest.group == ("kpi_drop", "Île") and digest.items == (_item("c"),)


def test_json_keeps_the_dropped_count() -> None:
    state = GroupState()
    state.offer("ops", G, _item("sent"), _at(0), interval=FIVE)
    for n in range(MAX_QUEUED + 3):
        state.offer("ops", G, _item(f"i{n}"), _at(1), interval=FIVE)
    [batch] = GroupState.from_json(json.loads(json.dumps(state.to_json()))).due(_at(5))
    assert batch.omitted == 3 and len(batch.items) == MAX_QUEUED


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"groups": {}},
        {"groups": [{"channel": "ops"}]},
        {"groups": [{"channel": "ops", "group": [], "interval": 1, "items": [{"state": "x"}]}]},
        {"groups": [{"channel": "ops", "group": [], "interval": "soon"}]},
    ],
)
def test_from_json_refuses_what_is_not_a_group_state(data: object) -> None:
    with pytest.raises(ValueError, match="not a group"):
        GroupState.from_json(data)


# ---------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=400),
            st.sampled_from(["a", "b", "c", "d"]),
            st.sampled_from([("g1",), ("g2",)]),
            st.sampled_from(["firing", "resolved"]),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_every_latest_change_is_sent_once_and_groups_keep_their_interval(
    offers: list[tuple[int, str, tuple[str, ...], AlertState]], digest: bool
) -> None:
    state, now = GroupState(), T0
    period = timedelta(minutes=15) if digest else None
    sent: list[Batch] = []
    latest: dict[tuple[tuple[str, ...], str], tuple[AlertState, datetime]] = {}
    for seconds, name, group, status in offers:
        now += timedelta(seconds=seconds)
        sent += state.due(now)
        sent += state.offer("ops", group, _item(name, status), now, interval=FIVE, digest=period)
        latest[(group, name)] = (status, now)
    sent += state.due(now + timedelta(days=1))
    assert state.next_due() is None and all(b.items for b in sent)
    for group in {g for _, _, g, _ in offers}:
        times = [b.at for b in sent if b.group == group]
        pairs = list(itertools.pairwise(times))
        if period is None:
            assert all(b - a >= FIVE for a, b in pairs)
        else:
            # At most one digest per aligned period, even when due() is called late.
            assert all((a - EPOCH) // period < (b - EPOCH) // period for a, b in pairs)
    for (group, name), (status, offered) in latest.items():
        last = [
            (b.at, i.state)
            for b in sent
            if b.group == group
            for i in b.items
            if i.fingerprint == name
        ][-1]
        assert last[0] >= offered and last[1] == status


def test_changes_of_one_moment_go_out_together() -> None:
    state = GroupState()
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    (batch,) = state.offer("ops", G, [_item("a"), _item("b"), _item("c")], now, interval=FIVE)
    assert [i.fingerprint for i in batch.items] == ["a", "b", "c"]
    later = now + timedelta(minutes=1)
    assert state.offer("ops", G, [_item("d"), _item("e")], later, interval=FIVE) == []
    (held,) = state.due(now + FIVE)
    assert [i.fingerprint for i in held.items] == ["d", "e"]
