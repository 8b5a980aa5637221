"""Pydantic models kept for a long time, made cheaper to keep (issue 18: memory).

pydantic gives every model instance its own ``set`` of the field names its input set
(``model_fields_set``): ~220 bytes for two names, ~730 for ten. Models that are kept
by the thousand (a twin's reported state) share one set per distinct set of names
instead: the same ``model_fields_set``, equality and dumps.
Only for frozen models: an assignment would add to the shared set (``model_copy``
copies it first). A ``set``, not a ``frozenset``: pydantic-core's ``exclude_unset``
dumps take only a ``set``.
"""

from __future__ import annotations

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
