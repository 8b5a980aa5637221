"""The live feed's JSON (``frame_json``, pydantic-core's encoder) says the same as the
strict ``dumps`` of every other answer."""

from __future__ import annotations

import json
import math

import pytest

from controller.api.responses import dumps, frame_json


def _strict(text: str) -> object:
    def refuse(word: str) -> object:
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "value",
    [
        {"type": "batch", "data": [{"type": "device", "data": {"id": "a-1", "seq": 3}}] * 3},
        {"text": "Lås upp dörren åt Åsa", "emoji": "\u2603", "quote": 'a "b" \\ c\n'},
        {"big": 1e16, "small": 1e-7, "neg": -0.0, "int": 2**53, "none": None, "flag": False},
        {"nan": math.nan, "inf": [math.inf, -math.inf], "nested": {"x": [1.5, math.nan]}},
    ],
)
def test_frame_json_says_what_dumps_says(value: object) -> None:
    assert _strict(frame_json(value)) == _strict(dumps(value))


def test_frame_json_writes_non_finite_floats_as_null() -> None:
    assert _strict(frame_json({"p": math.nan, "q": [math.inf]})) == {"p": None, "q": [None]}
