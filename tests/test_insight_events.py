"""The counted events of the health insight: plain Python, no Home Assistant."""

from __future__ import annotations

import json
import math

import pytest

from custom_components.victron_cerbo.insight_events import (
    CAN_SAMPLE_EVERY,
    DAY,
    MAX_EVENTS,
    MAX_SAMPLES,
    WEEK,
    CounterGrowth,
    EventLog,
    InstallationEvents,
)

NOW = 1_768_471_200.0  # 2026-01-15 10:00 UTC


def test_an_event_log_counts_its_window() -> None:
    log = EventLog(DAY)
    for moment in (NOW - DAY + 1, NOW - 10, NOW):
        log.add(moment)
    assert log.count(NOW) == 3
    assert log.count(NOW + 1) == 2  # the oldest is a day old now: out
    assert log.count(NOW - 11) == 1  # later events do not count yet


def test_an_event_log_forgets_what_left_its_window_and_stays_bounded() -> None:
    log = EventLog(WEEK)
    log.add(NOW - WEEK)
    log.add(NOW)
    assert log.moments == [NOW]  # exactly a week old is out
    for i in range(MAX_EVENTS + 5):
        log.add(NOW + i)
    assert len(log.moments) == MAX_EVENTS
    assert log.moments[0] == NOW + 5


def test_a_counter_is_sampled_every_five_minutes() -> None:
    growth = CounterGrowth()
    assert growth.growth(NOW) is None
    assert growth.since() is None
    assert growth.add(NOW, 100) is True
    assert growth.growth(NOW) is None  # one sample: no growth yet
    assert growth.add(NOW + CAN_SAMPLE_EVERY - 1, 150) is False  # too soon: not kept
    assert growth.add(NOW + CAN_SAMPLE_EVERY, 160) is True
    assert growth.samples == [(NOW, 100), (NOW + CAN_SAMPLE_EVERY, 160)]
    assert growth.growth(NOW + CAN_SAMPLE_EVERY) == 60
    assert growth.since() == NOW


def test_a_counter_reset_counts_from_zero() -> None:
    """A reboot resets the counters: the growth after it counts from 0."""
    growth = CounterGrowth()
    growth.add(NOW, 500)
    growth.add(NOW + 300, 540)  # +40
    growth.add(NOW + 600, 30)  # reset between samples: +30
    growth.add(NOW + 900, 45)  # +15
    assert growth.growth(NOW + 900) == 85


def test_a_reset_between_samples_lowers_the_last_sample() -> None:
    """The errors after a reset count in full; those since the last sample are lost."""
    growth = CounterGrowth()
    growth.add(NOW, 500)
    growth.add(NOW + 300, 540)
    assert growth.add(NOW + 400, 10) is True  # reset: the base is the lower value now
    assert growth.samples[-1] == (NOW + 300, 10)
    assert growth.add(NOW + 500, 20) is False  # growing again, within the five minutes
    growth.add(NOW + 600, 700)
    assert growth.growth(NOW + 600) == 10 + 690


def test_a_counter_keeps_a_day_of_samples() -> None:
    growth = CounterGrowth()
    for step in range(MAX_SAMPLES + 10):
        growth.add(NOW + step * CAN_SAMPLE_EVERY, step)
    newest = NOW + (MAX_SAMPLES + 9) * CAN_SAMPLE_EVERY
    assert len(growth.samples) == MAX_SAMPLES  # a day of five-minute samples, both ends
    assert growth.since() == newest - DAY
    assert growth.growth(newest) == MAX_SAMPLES - 1


def test_vebus_alarms_count_when_they_rise_to_alarm() -> None:
    events = InstallationEvents()
    assert events.note_vebus(NOW, {"Overload": 1, "HighTemperature": 0}, 0) is False
    # a warning rising to an alarm counts; a list (BmsPreAlarm []) is no level
    assert events.note_vebus(NOW + 1, {"Overload": 2, "BmsPreAlarm": []}, 0) is True  # type: ignore[dict-item]
    assert events.note_vebus(NOW + 2, {"Overload": 2}, None) is False  # still raised
    assert events.note_vebus(NOW + 3, {"Overload": 2, "HighTemperature": 2}, 8) is True
    assert events.vebus_alarms.count(NOW + 3) == 3  # overload, temperature, error 8
    assert events.last_vebus == {"Overload": 2, "HighTemperature": 2, "VebusError": 2}
    events.note_vebus(NOW + 4, {"Overload": 0, "HighTemperature": 2}, 0)
    assert events.note_vebus(NOW + 5, {"Overload": 2, "HighTemperature": 2}, 0) is True
    assert events.vebus_alarms.count(NOW + 5) == 4
    assert events.vebus_alarms.count(NOW + WEEK + 1.5) == 3  # a week on: the first is out


def test_the_events_come_back_from_the_store() -> None:
    events = InstallationEvents()
    events.note_vebus(NOW, {"Overload": 2}, 0)
    events.vrm_failures.add(NOW + 1)
    events.can_errors.add(NOW, 649)
    events.can_errors.add(NOW + 300, 700)
    stored = json.loads(json.dumps(events.as_dict()))  # as the store writes it
    assert stored == {
        "vebus_alarms": [NOW],
        "vrm_failures": [NOW + 1],
        "can_errors": [[NOW, 649], [NOW + 300, 700]],
        "last_vebus": {"Overload": 2, "VebusError": 0},
    }
    restored = InstallationEvents.from_dict(stored)
    assert restored == events
    assert restored.can_errors.growth(NOW + 300) == 51


@pytest.mark.parametrize("stored", [None, [], "events", {}, {"vebus_alarms": "many"}])
def test_nothing_usable_in_the_store_is_no_events(stored: object) -> None:
    assert InstallationEvents.from_dict(stored) == InstallationEvents()  # type: ignore[arg-type]


def test_unusable_parts_of_the_store_are_dropped() -> None:
    restored = InstallationEvents.from_dict(
        {
            "vebus_alarms": [NOW + 2, "soon", True, math.nan, NOW],
            "vrm_failures": {"not": "a list"},
            "can_errors": [[NOW, 649], [NOW + 300], [NOW, "x"], "sample", [NOW + 600, math.inf]],
            "last_vebus": {"Overload": 2, "GridLost": "2", "LowBattery": True, "HighTemp": 1.0},
        }
    )
    assert restored.vebus_alarms.moments == [NOW, NOW + 2]  # sorted, numbers only
    assert restored.vrm_failures.moments == []
    assert restored.can_errors.samples == [(NOW, 649)]
    assert restored.last_vebus == {"Overload": 2}
    assert InstallationEvents.from_dict({"can_errors": "none", "last_vebus": []}) == (
        InstallationEvents()
    )


def test_the_store_stays_bounded() -> None:
    restored = InstallationEvents.from_dict(
        {
            "vebus_alarms": [NOW + i for i in range(MAX_EVENTS + 3)],
            "can_errors": [[NOW + i * 300, i] for i in range(MAX_SAMPLES + 3)],
        }
    )
    assert len(restored.vebus_alarms.moments) == MAX_EVENTS
    assert restored.vebus_alarms.moments[0] == NOW + 3
    assert len(restored.can_errors.samples) == MAX_SAMPLES
    assert restored.can_errors.samples[0] == (NOW + 900, 3)
