"""The state-of-charge comparison rule: time-aligned samples and a dwell-time verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.victron_cerbo.comparison import MAX_READINGS, SocComparator, parse_soc

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("81.5", 81.5),
        (42, 42.0),
        ("0", 0.0),
        ("100", 100.0),
        ("100.1", None),
        ("-1", None),
        ("unavailable", None),
        ("unknown", None),
        ("nan", None),
        ("inf", None),
        (None, None),
        (True, None),
        ([], None),
    ],
)
def test_parse_soc(raw: object, expected: float | None) -> None:
    assert parse_soc(raw) == expected


def test_vrm_sample_is_compared_with_the_inverter_value_of_its_moment() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    comparator.add_other(80.0, at(0))
    comparator.add_other(70.0, at(170))  # the inverter moved on after the VRM sample was taken
    # VRM sample taken at t=100 (fetched at t=180 with secondsAgo=80)
    result = comparator.compare(81.0, at(100), now=at(180))
    assert result is not None
    assert result.other_soc == 80.0
    assert result.other_sampled_at == at(0)
    assert result.difference == 1.0
    assert result.disagree is False


def test_reading_just_after_the_sample_stands_in_at_start_up() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    comparator.add_other(75.0, at(30))
    result = comparator.compare(80.0, at(0), now=at(30))
    assert result is not None
    assert result.other_soc == 75.0
    assert result.difference == 5.0
    assert result.disagree is True


def test_only_a_reading_in_effect_or_just_after_counts() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    comparator.add_other(75.0, at(0))
    # an unchanged value is still in effect much later
    assert comparator.compare(80.0, at(11 * 60), now=at(11 * 60)) is not None
    assert comparator.compare(80.0, at(-120), now=at(0)) is None  # first reading too late
    assert comparator.compare(None, at(0), now=at(0)) is None
    assert comparator.compare(80.0, None, now=at(0)) is None


def test_unavailable_inverter_clears_the_history() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    comparator.add_other(75.0, at(0))
    comparator.add_other(None, at(5))
    assert comparator.compare(80.0, at(10), now=at(10)) is None


def test_out_of_order_readings_are_ignored() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    comparator.add_other(75.0, at(10))
    comparator.add_other(10.0, at(5))
    result = comparator.compare(75.0, at(10), now=at(10))
    assert result is not None
    assert result.other_soc == 75.0


def test_history_is_trimmed_but_keeps_the_reading_in_effect() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    for minute in range(60):
        comparator.add_other(50.0 + minute / 10, at(minute * 60))
    assert len(comparator._times) == 21  # minutes 39-59: what the window still needs
    result = comparator.compare(55.9, at(59 * 60 + 30), now=at(59 * 60 + 30))
    assert result is not None
    assert result.other_soc == pytest.approx(55.9)


def test_one_sample_cannot_flip_the_verdict() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(seconds=60))
    comparator.add_other(80.0, at(0))
    first = comparator.compare(85.0, at(0), now=at(0))
    assert first is not None
    assert first.disagree is False  # disagreement has not lasted the dwell time yet
    assert first.disagreeing_since == at(0)

    comparator.add_other(84.0, at(30))
    back = comparator.compare(85.0, at(30), now=at(30))
    assert back is not None
    assert back.disagree is False
    assert back.disagreeing_since is None  # agreement again: the clock restarts

    comparator.add_other(80.0, at(40))
    for seconds in (40, 70, 99):
        assert comparator.compare(85.0, at(seconds), now=at(seconds)).disagree is False  # type: ignore[union-attr]
    flipped = comparator.compare(85.0, at(100), now=at(100))
    assert flipped is not None
    assert flipped.disagree is True
    assert flipped.disagreeing_since == at(40)

    # and back to agreement only after the dwell time too
    comparator.add_other(84.5, at(110))
    assert comparator.compare(85.0, at(110), now=at(110)).disagree is True  # type: ignore[union-attr]
    assert comparator.compare(85.0, at(169), now=at(169)).disagree is True  # type: ignore[union-attr]
    assert comparator.compare(85.0, at(170), now=at(170)).disagree is False  # type: ignore[union-attr]


def test_threshold_is_inclusive_and_clearing_the_other_forgets() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    comparator.add_other(80.0, at(0))
    exactly = comparator.compare(82.0, at(0), now=at(0))
    assert exactly is not None
    assert exactly.disagree is False
    assert comparator.compare(82.1, at(1), now=at(1)).disagree is True  # type: ignore[union-attr]
    comparator.clear_other()
    assert comparator.compare(82.1, at(2), now=at(2)) is None


def test_the_same_moment_told_again_replaces_and_a_repeat_adds_nothing() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    comparator.add_other(75.0, at(0))
    comparator.add_other(76.0, at(0))  # the same change, corrected
    comparator.add_other(76.0, at(30))  # no change: still in effect since 0
    assert comparator._times == [at(0)]
    assert comparator.other_at(at(40)) == (76.0, at(0))


def test_history_has_a_hard_bound() -> None:
    comparator = SocComparator(threshold=2, dwell=timedelta(0))
    for second in range(MAX_READINGS + 500):  # a new value every 0.1 s: all inside 20 minutes
        comparator.add_other(float(second % 2), at(second / 10))
    assert len(comparator._times) == MAX_READINGS
