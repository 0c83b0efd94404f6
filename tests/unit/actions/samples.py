"""A notification to send in tests, with any field changed."""

from datetime import UTC, datetime

from gnomon.actions import Notification


def notification(**changes: object) -> Notification:
    fields: dict[str, object] = {
        "key": "ntf-0001",
        "channel": "ops",
        "rule": "revenue_drop",
        "fingerprint": "fp-revenue-eu",
        "state": "firing",
        "severity": "critical",
        "title": "Revenue down 40% in EU",
        "summary": "Revenue was 6,000 against an expected 10,000 <b>today</b>.",
        "labels": {"metric": "revenue", "region": "EU"},
        "data": {"value": 6000, "expected": 10000, "links": {"Dashboard": "https://x.test/d"}},
        "created_at": datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        "tenant": "acme",
    }
    fields.update(changes)
    return Notification(**fields)  # type: ignore[arg-type]
