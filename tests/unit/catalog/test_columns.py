"""UtcDateTime: aware UTC in, aware UTC out, whatever the backend stores."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from gnomon.catalog._columns import UtcDateTime

DIALECTS = [sqlite.dialect(), postgresql.dialect()]

aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.builds(
        timezone,
        st.integers(min_value=-23 * 60, max_value=23 * 60).map(
            lambda minutes: timedelta(minutes=minutes)
        ),
    ),
)


@given(value=aware_datetimes)
def test_round_trip_keeps_the_instant_and_returns_utc(value: datetime) -> None:
    column = UtcDateTime()
    for dialect in DIALECTS:
        stored = column.process_bind_param(value, dialect)
        assert stored is not None
        loaded = column.process_result_value(stored, dialect)
        assert loaded == value
        assert loaded is not None
        assert loaded.tzinfo is UTC


@given(value=aware_datetimes)
def test_sqlite_stores_naive_utc(value: datetime) -> None:
    stored = UtcDateTime().process_bind_param(value, sqlite.dialect())
    assert stored is not None
    assert stored.tzinfo is None
    assert stored == value.astimezone(UTC).replace(tzinfo=None)


def test_postgres_values_in_the_session_zone_come_back_in_utc() -> None:
    berlin_summer = datetime(2025, 7, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    loaded = UtcDateTime().process_result_value(berlin_summer, postgresql.dialect())
    assert loaded == datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    assert loaded is not None
    assert loaded.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UtcDateTime().process_bind_param(datetime(2025, 1, 1), sqlite.dialect())


def test_none_passes_through() -> None:
    column = UtcDateTime()
    for dialect in DIALECTS:
        assert column.process_bind_param(None, dialect) is None
        assert column.process_result_value(None, dialect) is None
