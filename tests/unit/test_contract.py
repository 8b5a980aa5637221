"""The contract module: topics, codec, signatures, device types; parsers fuzzed."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.contract import (
    MAX_PAYLOAD_BYTES,
    Ack,
    Channel,
    Command,
    ContractError,
    DeviceType,
    Event,
    FireSignal,
    LockState,
    Meta,
    ScreenState,
    SiteTopics,
    TopicKind,
    decode,
    decode_availability,
    decode_state,
    encode,
    new_command,
    parse_topic,
    sign_command,
    spec_for,
    verify_command,
)
from devices.contract.codec import parse_json

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
KEY = bytes(range(32))


def test_topics_round_trip() -> None:
    topics = SiteTopics("solgarden")
    topic = topics.device("a101-lock", Channel.CMD)
    assert topic == "tryggbo/solgarden/dev/a101-lock/cmd"
    parsed = parse_topic(topic)
    assert (parsed.site, parsed.kind, parsed.device, parsed.channel) == (
        "solgarden",
        TopicKind.DEVICE,
        "a101-lock",
        Channel.CMD,
    )
    assert parse_topic(topics.fire).kind is TopicKind.FIRE
    assert parse_topic(topics.controller_availability).kind is TopicKind.CONTROLLER_AVAILABILITY


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "tryggbo",
        "tryggbo/Sol/dev/a/state",
        "other/solgarden/fire",
        "tryggbo/solgarden/dev/A1/state",
        "tryggbo/solgarden/dev/a1/nonsense",
        "tryggbo/solgarden/dev/a1/state/extra",
        "tryggbo/solgarden/x",
    ],
)
def test_bad_topics_are_refused(topic: str) -> None:
    with pytest.raises(ContractError) as exc:
        parse_topic(topic)
    assert exc.value.reason == "bad_topic"


def test_bad_names_cannot_build_topics() -> None:
    with pytest.raises(ContractError):
        SiteTopics("Sol Garden")
    with pytest.raises(ContractError):
        SiteTopics("solgarden").device("a101/#", Channel.CMD)


def test_signature_binds_key_device_and_every_field() -> None:
    cmd = new_command("unlock", {"relock_after_s": 30}, "staff:anna", NOW)
    signed = sign_command(cmd, "a101-lock", KEY)
    wire = decode(Command, encode(signed))
    assert verify_command(wire, "a101-lock", KEY)
    assert not verify_command(wire, "a102-lock", KEY)
    assert not verify_command(wire, "a101-lock", bytes(32))
    assert not verify_command(cmd, "a101-lock", KEY)  # unsigned
    tampered = wire.model_copy(update={"expires_at": wire.expires_at + timedelta(hours=1)})
    assert not verify_command(tampered, "a101-lock", KEY)
    tampered = wire.model_copy(update={"args": {"relock_after_s": 3600}})
    assert not verify_command(tampered, "a101-lock", KEY)


def test_command_expiry() -> None:
    cmd = new_command("lock", {}, "x", NOW, ttl=timedelta(seconds=5))
    assert not cmd.expired(NOW + timedelta(seconds=4.9))
    assert cmd.expired(NOW + timedelta(seconds=5))


def test_commands_refuse_unknown_fields_but_reports_ignore_them() -> None:
    with pytest.raises(ContractError):
        decode(
            Command,
            b'{"id":"abcdefgh","action":"lock","actor":"x","issued_at":'
            b'"2026-01-01T00:00:00Z","expires_at":"2026-01-01T00:00:10Z","extra":1}',
        )
    meta = decode(Meta, b'{"type":"lock","model":"m","firmware":"1","future_field":true}')
    assert meta.type is DeviceType.LOCK


def test_times_must_carry_an_offset_and_become_utc() -> None:
    with pytest.raises(ContractError):
        decode(FireSignal, b'{"state":"alarm","ts":"2026-01-01T00:00:00"}')
    sig = decode(FireSignal, b'{"state":"alarm","ts":"2026-03-29T03:30:00+02:00"}')
    assert sig.ts == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert b'"2026-03-29T01:30:00Z"' in encode(sig)


def test_size_limit_both_ways() -> None:
    with pytest.raises(ContractError) as exc:
        decode(
            Event,
            b'{"type":"touched","ts":"2026-01-01T00:00:00Z","seq":1,"x":"'
            + b"a" * MAX_PAYLOAD_BYTES
            + b'"}',
        )
    assert exc.value.reason == "too_large"
    big = Event(type="touched", ts=NOW, seq=1, blob="a" * MAX_PAYLOAD_BYTES)
    with pytest.raises(ContractError):
        encode(big)


def test_args_validated_per_type() -> None:
    lock = spec_for("lock")
    assert lock.signed
    assert not spec_for("curtain").signed
    assert lock.validate_args("unlock", {"relock_after_s": 10}) == {"relock_after_s": 10}
    assert lock.validate_args("unlock", None) == {}
    with pytest.raises(ContractError) as exc:
        lock.validate_args("set_position", {"position": 3})
    assert exc.value.reason == "unknown_action"
    with pytest.raises(ContractError) as exc:
        spec_for("curtain").validate_args("set_position", {"position": 101})
    assert exc.value.reason == "bad_args"
    with pytest.raises(ContractError):
        spec_for("toaster")
    every = {a for s in (spec_for(t) for t in DeviceType) for a in s.actions}
    assert {"ping", "reboot", "lock", "open", "show_message"} <= every


def test_lock_state_round_trip_and_state_by_type() -> None:
    state = LockState(seq=3, ts=NOW, boot="b1", lock="locked", door="closed", battery=90)
    assert decode_state("lock", encode(state)) == state
    with pytest.raises(ContractError):
        decode_state("curtain", encode(state))


def test_availability() -> None:
    assert decode_availability(b"online").value == "online"
    for bad in (b"", b"ONLINE", b"\xff", b"x" * 100):
        with pytest.raises(ContractError):
            decode_availability(bad)


TS = '"ts":"2026-01-01T00:00:00Z"'
LOCK = f'{TS},"seq":1,"lock":"locked","door":"closed"'


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (Event, f'{{"type":"help_pressed",{TS},"seq":NaN}}'),
        (Event, f'{{"type":"help_pressed",{TS},"seq":1,"pressure":[1,{{"x":NaN}}]}}'),
        (Event, f'{{"type":"help_pressed",{TS},"seq":1,"pressure":-Infinity}}'),
        (Event, f'{{"type":"help_pressed",{TS},"seq":1,"pressure":1e999}}'),
        (LockState, f'{{{LOCK},"battery":NaN}}'),
        (LockState, f'{{{LOCK},"battery":Infinity}}'),
        (LockState, f'{{{LOCK},"battery":50,"future_field":NaN}}'),  # ignored, yet refused
        (Ack, '{"id":"abcdefgh","status":"ok","state":{"battery":NaN}}'),
        (Ack, '{"id":"abcdefgh","status":"ok","state":{"battery":1e400}}'),
        (Meta, '{"type":"lock","model":"m","firmware":"1","heartbeat_s":Infinity}'),
    ],
)
def test_nan_infinity_and_out_of_range_numbers_are_not_json(model: type, payload: str) -> None:
    for wire in (payload.encode(), payload):  # the one-pass bytes path and the str path
        with pytest.raises(ContractError) as exc:
            decode(model, wire)
        assert exc.value.reason == "not_json", exc.value


def test_nan_and_infinity_inside_strings_are_just_text() -> None:
    screen = decode_state(
        "screen",
        f'{{{TS},"seq":1,"power":"on","brightness":5,"night_mode":false,"call":"idle",'
        '"message":{"text":"NaN and -Infinity are not numbers"}}'.encode(),
    )
    assert isinstance(screen, ScreenState)
    assert screen.message is not None
    assert screen.message.text == "NaN and -Infinity are not numbers"
    event = decode(Event, f'{{"type":"touched",{TS},"seq":1,"NaN":"Infinity"}}'.encode())
    assert event.details() == {"NaN": "Infinity"}


def test_kept_free_form_content_refuses_non_finite_numbers_from_python_too() -> None:
    """What a receiver keeps (event details, an ack's state, args) is never nan/inf, even
    when a model is built in Python (the serial bridge builds events from a line)."""
    with pytest.raises(ValueError, match="not finite"):
        Event(type="touched", ts=NOW, seq=1, pressure=[1.0, float("inf")])
    with pytest.raises(ValueError, match="not finite"):
        Ack(id="abcdefgh", status="ok", state={"battery": float("nan")})
    with pytest.raises(ValueError, match="not finite"):
        new_command("set_position", {"position": float("nan")}, "x", NOW)
    assert Event(type="touched", ts=NOW, seq=1, pressure=[1.5]).details() == {"pressure": [1.5]}


@pytest.mark.parametrize(
    ("text", "reason", "says"),
    [
        (b"[" * 20_000 + b"]" * 20_000, "not_json", "nested too deeply"),
        (b'{"n":' + b"7" * 5_000 + b"}", "not_json", "4300 digits"),
        (b'{"n":1e999}', "not_json", "out of range"),
        (b'{"n":NaN}', "not_json", "NaN is not a JSON value"),
        (b'{"n":1', "not_json", "Expecting"),
        (b'{"n":"\xff"}', "not_utf8", "UTF-8"),
    ],
    ids=["deep", "digits", "1e999", "nan", "truncated", "latin1"],
)
def test_parse_json_says_why_and_raises_nothing_else(text: bytes, reason: str, says: str) -> None:
    with pytest.raises(ContractError) as exc:
        parse_json(text)
    assert exc.value.reason == reason
    assert says in exc.value.message


def test_parse_json_keeps_what_is_json() -> None:
    assert parse_json(b'{"a":[1,2.5,-0.0,1e308,"NaN",null,true]}') == {
        "a": [1, 2.5, -0.0, 1e308, "NaN", None, True]
    }
    assert parse_json("[" * 100 + "]" * 100) is not None
    assert parse_json(b"7" * 4_300) == int("7" * 4_300)


DECODERS = [
    lambda b: decode(Command, b),
    lambda b: decode(Ack, b),
    lambda b: decode(Event, b),
    lambda b: decode(Meta, b),
    lambda b: decode(FireSignal, b),
    lambda b: decode_state("lock", b),
    lambda b: decode_state("curtain", b),
    lambda b: decode_state("screen", b),
    decode_availability,
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.sampled_from(range(len(DECODERS))))
def test_parsers_on_arbitrary_bytes_raise_only_contract_errors(payload: bytes, which: int) -> None:
    with contextlib.suppress(ContractError):
        DECODERS[which](payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "action",
                "args",
                "actor",
                "issued_at",
                "expires_at",
                "sig",
                "type",
                "ts",
                "seq",
                "state",
                "lock",
                "door",
                "battery",
                "status",
                "position",
            ]
        ),
        json_values,
        max_size=8,
    ),
    st.sampled_from(range(len(DECODERS) - 1)),
)
def test_parsers_on_arbitrary_json_objects_raise_only_contract_errors(
    obj: dict, which: int
) -> None:
    import json

    with contextlib.suppress(ContractError):
        DECODERS[which](json.dumps(obj).encode())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_topic_parser_on_arbitrary_text(topic: str) -> None:
    try:
        parsed = parse_topic(topic)
    except ContractError:
        return
    assert parsed.site
    assert topic.startswith("tryggbo/")
