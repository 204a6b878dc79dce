"""What every runbook operation receives, returns and declares about its arguments.

Each operation declares its arguments once, beside its implementation
(``@operation("router-wait", Arg("timeout", "number", minimum=0), ...)``).  The same
declaration is used three times, so a typo can never make a step do something else
quietly: when a runbook file is loaded (names, required arguments and literal values,
with the file's line), when a run starts (values that come from ``${parameters}``),
and when the step runs (values that come from earlier steps' results).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.ops.connect import ConnectOptions
from fitelctl.runbook.arguments import Arg


class StepArgumentError(FitelctlError):
    pass


@dataclass
class StepContext:
    inventory: Inventory
    site: str
    run_dir: Path
    connect: ConnectOptions = field(default_factory=ConnectOptions)


@dataclass
class StepResult:
    ok: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False


StepFunction = Callable[[StepContext, dict[str, Any]], StepResult]


@dataclass(frozen=True)
class Operation:
    """A step operation: its declared arguments and the adapter that runs it."""

    name: str
    function: StepFunction
    args: tuple[Arg, ...] = ()

    def arg(self, name: str) -> Arg | None:
        return next((a for a in self.args if a.name == name), None)

    def unknown(self, name: str) -> str:
        """The message for an argument this operation does not take (closest name suggested)."""
        names = [a.name for a in self.args]
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            hint = f"did you mean `{close[0]}`?"
        elif names:
            hint = f"it takes {', '.join(f'`{n}`' for n in names)}"
        else:
            hint = "it takes no arguments"
        return f"`{name}`: unknown argument of {self.name}; {hint}"

    def missing(self, given: Iterable[str]) -> list[str]:
        return [a.name for a in self.args if a.required and a.name not in given]

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every argument checked and converted, defaults filled in; StepArgumentError if not."""
        for name in given:
            if self.arg(name) is None:
                raise StepArgumentError(self.unknown(name))
        missing = self.missing(given)
        if missing:
            raise StepArgumentError(f"{self.name} needs argument `{missing[0]}`")
        checked: dict[str, Any] = {}
        for arg in self.args:
            if arg.name not in given:
                checked[arg.name] = arg.default
                continue
            try:
                checked[arg.name] = arg.convert(given[arg.name])
            except ValueError as err:
                raise StepArgumentError(f"`{arg.name}` of {self.name}: {err}") from None
        return checked

    def __call__(self, ctx: StepContext, args: dict[str, Any]) -> StepResult:
        return self.function(ctx, self.check(args))


def operation(name: str, *args: Arg) -> Callable[[StepFunction], Operation]:
    """Declare a step operation and its arguments where it is implemented."""

    def declare(function: StepFunction) -> Operation:
        return Operation(name, function, args)

    return declare
