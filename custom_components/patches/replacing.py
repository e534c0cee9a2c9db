"""The one way a patch replaces a piece of Rasa: recorded with what Rasa had there, never twice."""

from __future__ import annotations

import types
from typing import Any

_RASAS: dict[tuple[Any, str], Any] = {}  # (owner, name) -> what Rasa had there


def replace(owner: type | types.ModuleType, name: str, ours: Any) -> None:
    """Put ``ours`` where Rasa has ``owner.name`` (a class's method or a module's global)."""
    if (owner, name) in _RASAS:
        raise RuntimeError(f"{label(owner)}.{name} is already replaced")
    _RASAS[owner, name] = getattr(owner, name)
    setattr(owner, name, ours)


def replaced() -> list[str]:
    """What the patches replaced in this process, as ``module_or_class.attribute``."""
    return [f"{label(owner)}.{name}" for owner, name in _RASAS]


def rasas_own(owner: type | types.ModuleType, name: str) -> Any:
    """What Rasa had at ``owner.name`` before a patch replaced it (for comparisons in tests)."""
    return _RASAS[owner, name]


def label(owner: type | types.ModuleType) -> str:
    return owner.__name__ if isinstance(owner, types.ModuleType) else owner.__qualname__
