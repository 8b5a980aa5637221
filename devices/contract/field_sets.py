"""Pydantic models kept for a long time, made cheaper to keep (issue 18: memory).

pydantic gives every model instance its own ``set`` of the field names its input set
(``model_fields_set``): ~220 bytes for two names, ~730 for ten. Models that are kept
by the thousand (a twin's state, the site file's apartments and devices) share one set
per distinct set of names instead: the same ``model_fields_set``, equality and dumps.
Only for frozen models: an assignment would add to the shared set (``model_copy``
copies it first). A ``set``, not a ``frozenset``: pydantic-core's ``exclude_unset``
dumps take only a ``set``.
"""

from __future__ import annotations

from collections.abc import ValuesView
from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_SHARED: dict[frozenset[str], set[str]] = {}


def shared_field_set(model: M) -> M:
    """``model`` with its field-name set shared (the model itself, not its fields)."""
    names = model.model_fields_set
    shared = _SHARED.get(frozenset(names))
    if shared is None:
        shared = _SHARED[frozenset(names)] = set(names)
    object.__setattr__(model, "__pydantic_fields_set__", shared)
    return model


def shared_field_sets(model: M) -> M:
    """``model`` and every model inside it (in fields, lists, tuples and dict values)
    with their field-name sets shared."""
    shared_field_set(model)
    for value in model.__dict__.values():
        items = value.values() if isinstance(value, dict) else value
        for item in items if isinstance(items, (list, tuple, ValuesView)) else (value,):
            if isinstance(item, BaseModel):
                shared_field_sets(item)
    return model
