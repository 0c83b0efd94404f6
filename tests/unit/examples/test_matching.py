"""Scoring scans against injected incidents: detections, the segment path, precision, recall."""

from datetime import date, timedelta

from gnomon.examples.retail.matching import detections, score_scan
from gnomon.examples.retail.models import Incident

DAY = timedelta(days=1)
OUTAGE = Incident(
    kind="outage",
    start=date(2024, 3, 10),
    end=date(2024, 3, 13),
    segment={"country": "DE", "channel": "web"},
    effect={"metric": "orders", "multiplier": 0.05},
)
DECLINE = Incident(
    kind="gradual_decline",
    start=date(2024, 5, 1),
    end=date(2024, 6, 12),
    segment={"region": "APAC"},
    effect={"metric": "orders", "multiplier": 0.7, "persists": True},
)


def row(metric: str, day: str, segment: dict[str, str], score: float = 0.99, id_: int = 1) -> dict:
    return {"id": id_, "metric": metric, "time": f"{day}T00:00:00+00:00", "segment": segment,
            "score": score}  # fmt: skip


def test_consecutive_buckets_of_one_series_are_one_detection() -> None:
    rows = [
        row("orders", "2024-03-10", {"country": "DE"}, 0.9, 1),
        row("orders", "2024-03-11", {"country": "DE"}, 0.99, 2),
        row("orders", "2024-03-13", {"country": "DE"}, 0.95, 3),  # one-bucket gap: same event
        row("orders", "2024-03-20", {"country": "DE"}, 0.95, 4),  # a new event
        row("revenue", "2024-03-10", {"country": "DE"}, 0.9, 5),  # another metric
    ]
    found = detections(rows, gap=DAY)
    assert [(d.metric, d.buckets, d.anomaly_ids) for d in found] == [
        ("orders", 3, (1, 2, 3)),
        ("revenue", 1, (5,)),
        ("orders", 1, (4,)),
    ]
    assert found[0].score == 0.99


def test_a_detection_explains_an_incident_on_its_path_and_in_its_days() -> None:
    rows = [
        row("orders", "2024-03-11", {"country": "DE", "channel": "web"}, id_=1),  # exact
        row("revenue", "2024-03-12", {"channel": "web"}, id_=2),  # fewer values
        row("orders", "2024-03-14", {"region": "EMEA"}, id_=3),  # the country's region, in grace
        row("orders", "2024-03-11", {"category": "books"}, id_=4),  # another axis
        row("orders", "2024-03-11", {"country": "FR"}, id_=5),  # another country
        row("orders", "2024-03-20", {"country": "DE"}, id_=6),  # too late
        row("orders", "2024-05-20", {"country": "JP"}, id_=7),  # in APAC, during the decline
        row("orders", "2024-06-25", {"region": "APAC"}, id_=8),  # the decline persists
    ]
    card = score_scan([OUTAGE, DECLINE], rows, gap=DAY)
    outage, decline = card.matches
    assert sorted(i for d in outage.detections for i in d.anomaly_ids) == [1, 2, 3]
    assert outage.first is not None and outage.first.anomaly_ids == (1,)
    assert outage.best is not None and outage.best.segment == {"country": "DE", "channel": "web"}
    assert sorted(i for d in decline.detections for i in d.anomaly_ids) == [7, 8]
    assert sorted(i for d in card.unexplained for i in d.anomaly_ids) == [4, 5, 6]
    assert card.recall == 1.0
    assert card.precision == 5 / 8


def test_nothing_found_is_zero_recall_and_no_detections_is_full_precision() -> None:
    card = score_scan([OUTAGE], [], gap=DAY)
    assert not card.matches[0].found
    assert (card.recall, card.precision) == (0.0, 1.0)
