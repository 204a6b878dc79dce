"""``--fault SPEC`` parsing (CONTRACT.md): what can go wrong in the lab, on purpose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from fitelctl.errors import FitelctlError

KNOWN = "ssh-drop-after:N, commit-fails, wrong-psk, api-503:N, api-slow:SECONDS, api-quirks"


class FaultError(FitelctlError):
    pass


@dataclass(frozen=True)
class Faults:
    ssh_drop_after: int | None = None  # drop the first session sending more config lines
    commit_fails: bool = False  # the next commit is rejected
    wrong_psk: bool = False  # the cloud side holds a different PSK
    api_503: int = 0  # the next N API calls answer 503
    api_slow: float = 0.0  # every API answer is delayed this long
    api_quirks: bool = False  # numbers as strings, connection details' lifetimes swapped


def parse_faults(specs: list[str] | tuple[str, ...]) -> Faults:
    faults = Faults()
    for spec in specs:
        name, _, arg = spec.partition(":")
        if name == "ssh-drop-after":
            faults = replace(faults, ssh_drop_after=_number(spec, arg, int))
        elif name == "commit-fails" and not arg:
            faults = replace(faults, commit_fails=True)
        elif name == "wrong-psk" and not arg:
            faults = replace(faults, wrong_psk=True)
        elif name == "api-quirks" and not arg:
            faults = replace(faults, api_quirks=True)
        elif name == "api-503":
            faults = replace(faults, api_503=_number(spec, arg, int))
        elif name == "api-slow":
            faults = replace(faults, api_slow=_number(spec, arg, float))
        else:
            raise FaultError(f"--fault {spec}: unknown fault (known: {KNOWN})")
    return faults


Number = TypeVar("Number", int, float)


def _number(spec: str, arg: str, kind: Callable[[str], Number]) -> Number:
    try:
        value = kind(arg)
    except ValueError:
        value = kind("-1")
    if value < 0:
        name = spec.partition(":")[0]
        raise FaultError(f"--fault {spec}: expected {name}:N with N a non-negative number")
    return value
