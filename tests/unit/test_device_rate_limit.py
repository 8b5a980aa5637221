"""The per-device message budget (controller/device_reports.py DeviceRateLimit)."""

from __future__ import annotations

from controller.device_reports import DeviceRateLimit


def test_a_device_gets_its_burst_then_its_rate_and_others_their_own() -> None:
    limit = DeviceRateLimit(per_s=2.0, burst=3.0)
    t = 1000.0
    assert [limit.allow("a", t) for _ in range(4)] == [True, True, True, False]
    assert "a" in limit.flooding
    assert limit.allow("b", t)  # another device's budget is its own
    assert limit.allow("a", t + 0.5)  # one message back after 1 / per_s
    assert not limit.allow("a", t + 0.5)
    assert [limit.allow("a", t + 10.0) for _ in range(4)] == [True, True, True, False]


def test_a_flooding_device_is_forgiven_once_half_its_burst_is_back() -> None:
    limit = DeviceRateLimit(per_s=1.0, burst=4.0)
    t = 50.0
    for _ in range(5):
        limit.allow("a", t)
    assert "a" in limit.flooding
    assert limit.allow("a", t + 1.0)  # 1 token: allowed, still flooding
    assert "a" in limit.flooding
    assert limit.allow("a", t + 4.0)  # 3 tokens again: within its rate
    assert "a" not in limit.flooding


def test_a_rate_of_zero_turns_the_limit_off() -> None:
    limit = DeviceRateLimit(per_s=0.0, burst=1.0)
    assert all(limit.allow("a", 0.0) for _ in range(1000))
