"""Noise rules and the rmm_alerts settings, without simulators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ConfigError
from hub.models import Alert, AlertSeverity, ExternalRef
from hub.settings import MaintenanceWindow, RmmAlertSettings, load_settings
from hub.sync.alert_rules import NoiseRules, window_open

SUNDAY_2AM = "0 2 * * 0"  # Sundays 02:00 UTC


def alert(device: str = "1001", name: str = "WS-1", customer: str = "100", severity: str = "critical") -> Alert:
    return Alert(device=ExternalRef(system="ncentral", kind="configuration_item", id=device), device_name=name,
                 organization=ExternalRef(system="ncentral", kind="organization", id=customer), service="CPU",
                 condition="default", severity=AlertSeverity(severity))  # fmt: skip


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (datetime(2026, 3, 1, 1, 59, tzinfo=UTC), False),  # a Sunday, before the window
        (datetime(2026, 3, 1, 2, 0, tzinfo=UTC), True),
        (datetime(2026, 3, 1, 3, 59, tzinfo=UTC), True),
        (datetime(2026, 3, 1, 4, 0, tzinfo=UTC), False),
        (datetime(2026, 3, 2, 2, 30, tzinfo=UTC), False),  # Monday
    ],
)
def test_recurring_window(moment: datetime, inside: bool) -> None:
    assert window_open(MaintenanceWindow(cron=SUNDAY_2AM, minutes=120), moment) is inside


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_a_recurring_window_is_open_exactly_its_minutes_after_each_opening(moment: datetime) -> None:
    window = MaintenanceWindow(cron="15 * * * *", minutes=10)
    assert window_open(window, moment) is (15 <= moment.minute < 25)


def test_customer_names_are_only_looked_up_when_a_rule_names_a_customer() -> None:
    asked: list[str] = []

    def name(customer_id: str) -> str | None:
        asked.append(customer_id)
        return "Acme Dental"

    now = datetime(2026, 3, 1, tzinfo=UTC)
    by_id = NoiseRules(RmmAlertSettings(exclude_customers=["100"]), name)
    assert by_id.suppressed(alert(), now) == "the customer is excluded" and asked == []
    by_name = NoiseRules(RmmAlertSettings(exclude_customers=["acme dental"]), name)
    assert by_name.suppressed(alert(), now) == "the customer is excluded" and asked == ["100"]
    assert by_name.suppressed(alert(customer="7"), now) == "the customer is excluded"  # same name, other id


def test_rules_in_order_and_an_allowed_alert() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    window = MaintenanceWindow(name="move", start=now - timedelta(minutes=5), end=now + timedelta(minutes=5),
                               customers=["200"])  # fmt: skip
    rules = NoiseRules(RmmAlertSettings(exclude_devices=["ws-9"], maintenance_windows=[window]), lambda _: None)
    assert rules.suppressed(alert(severity="information"), now) == "severity information is below the minimum warning"
    assert rules.suppressed(alert(name="WS-9"), now) == "the device is excluded"
    assert rules.suppressed(alert(customer="200"), now) == "maintenance window 'move'"
    assert rules.suppressed(alert(customer="200"), now + timedelta(minutes=6)) is None
    assert rules.suppressed(alert(), now) is None


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("MINIMUM_SEVERITY", "loud", "HUB_RMM_ALERTS__MINIMUM_SEVERITY: must be one of information, warning, critical"),
        ("PRIORITIES", '{"critical": "High"}', "HUB_RMM_ALERTS__PRIORITIES: needs a priority label for exactly "
                                               "information, warning, critical"),
        ("REOPEN_WINDOW_MINUTES", "-1", "HUB_RMM_ALERTS__REOPEN_WINDOW_MINUTES: Input should be greater than or "
                                        "equal to 0"),
        ("MAINTENANCE_WINDOWS", '[{"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}]',
         "HUB_RMM_ALERTS__MAINTENANCE_WINDOWS: a one-off window needs start and a later end"),
        ("MAINTENANCE_WINDOWS", '[{"cron": "every sunday", "minutes": 5}]',
         "HUB_RMM_ALERTS__MAINTENANCE_WINDOWS__CRON: not a cron expression: 'every sunday'"),
        ("MAINTENANCE_WINDOWS", '[{"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00Z"}]',
         "HUB_RMM_ALERTS__MAINTENANCE_WINDOWS__START: needs a time zone, e.g. 2026-03-01T02:00:00Z"),
    ],
)  # fmt: skip
def test_bad_settings_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    monkeypatch.setenv(f"HUB_RMM_ALERTS__{name}", value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert str(exc.value) == line


def test_comma_separated_exclusions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_RMM_ALERTS__EXCLUDE_DEVICES", "WS-1, 1000000003")
    monkeypatch.setenv("HUB_RMM_ALERTS__REOPEN_WINDOW_MINUTES", "90")
    settings = load_settings().rmm_alerts
    assert settings.exclude_devices == ["WS-1", "1000000003"]
    assert settings.reopen_window == timedelta(minutes=90)
