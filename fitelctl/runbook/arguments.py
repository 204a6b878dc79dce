"""A declared argument or parameter of a runbook: its type, range and choices.

Step arguments (``runbook.base.operation``) and a runbook's own ``parameters`` (given
with ``--var NAME=VALUE``) are both checked by :meth:`Arg.convert`, so a value is
judged by one set of rules and described by one set of messages wherever it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ArgType = Literal["string", "number", "integer", "boolean", "mapping"]
_TRUE, _FALSE = ("true", "yes"), ("false", "no")


@dataclass(frozen=True)
class Arg:
    """One argument of an operation: its name, type, and what values it accepts."""

    name: str
    type: ArgType = "string"
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()

    def convert(self, value: Any) -> Any:
        """``value`` as this argument's type; ValueError with what is wrong otherwise."""
        hint = (
            " (YAML reads on/off/yes/no as booleans: quote it)" if isinstance(value, bool) else ""
        )
        try:
            converted = _as_type(self.type, value)
        except ValueError as err:
            raise ValueError(f"{err}{hint if self.type == 'string' else ''}") from None
        if self.minimum is not None and converted < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}, not {value!r}")
        if self.maximum is not None and converted > self.maximum:
            raise ValueError(f"must be at most {self.maximum:g}, not {value!r}")
        if self.choices and converted not in self.choices:
            choices = ", ".join(map(str, self.choices))
            raise ValueError(f"must be one of {choices}, not {value!r}{hint}")
        return converted


def _as_type(kind: ArgType, value: Any) -> Any:
    expected = {"string": "a text", "mapping": "a mapping"}.get(kind, f"a {kind}")
    wrong = ValueError(f"expected {expected}, not {value!r}")
    if kind == "string":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise wrong
        return str(value)
    if kind == "mapping":
        if not isinstance(value, dict):
            raise wrong
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise wrong
    if isinstance(value, bool):
        raise wrong
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise wrong from None
    if kind == "integer":
        if not number.is_integer():
            raise wrong
        return int(number)
    return number
