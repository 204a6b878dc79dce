"""The runbook file format, checked completely before any step runs.

A runbook (``playbooks/NAME.yaml``)::

    name: reconnect
    description: one line for `fitelctl playbooks`
    parameters:                 # --var NAME=VALUE; `site` comes from --site
      timeout: {default: 60, type: number, min: 1, help: ...}
      side: {default: both, choices: [cloud, device, both]}
    steps:
      - id: reconnect           # unique; the run record and --resume use it
        op: reconnect           # an operation of fitelctl (see runbook.steps.OPERATIONS)
        title: Renegotiate      # what progress shows
        args: {side: "${side}"} # ${param}, ${steps.ID.FIELD} are substituted
        when: {diagnose.cause: [psk_mismatch]}   # run only if an earlier result matches
        confirm: Really?        # ask first (--yes answers)
        wait: {until: {state: up}, timeout: "${timeout}", interval: 2}
        on_failure: [explain]   # recovery steps (from `recovery:`) to run on failure
        rescue: true            # recovery that succeeds lets the run go on
    recovery:
      - {id: explain, op: diagnose}

Every error names the file, the line and what is wrong.  Step arguments are
checked against what the operation declares (``runbook.base.Arg``): an unknown
or misspelt name (the closest valid one is suggested), a missing required one,
or a literal of the wrong type or out of range is refused here.  A value that
comes from ``${...}`` is checked as soon as it is known: parameters when the run
starts (``engine.check_arguments``), earlier steps' results when the step runs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fitelctl.errors import FitelctlError
from fitelctl.runbook.arguments import Arg

if TYPE_CHECKING:
    from fitelctl.runbook.base import Operation

TOP_KEYS = {"name", "description", "parameters", "steps", "recovery"}
STEP_KEYS = {"id", "op", "title", "args", "when", "confirm", "wait", "on_failure", "rescue"}
WAIT_KEYS = {"until", "timeout", "interval"}
PARAMETER_KEYS = {"default", "type", "min", "max", "choices", "help", "required"}
PARAMETER_TYPES = {"string", "number", "integer", "boolean"}
REFERENCE = re.compile(r"\$\{([^}]+)\}")


class RunbookError(FitelctlError):
    """A runbook file cannot be used; nothing has run."""


@dataclass(frozen=True)
class Parameter(Arg):
    """A runbook's own parameter (``--var NAME=VALUE``): an argument with a help text."""

    help: str = ""


@dataclass(frozen=True)
class Wait:
    until: dict[str, Any]
    timeout: Any
    interval: Any = 2


@dataclass(frozen=True)
class Step:
    id: str
    op: str
    line: int
    title: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    arg_lines: dict[str, int] = field(default_factory=dict)
    when: dict[str, Any] = field(default_factory=dict)
    confirm: str = ""
    wait: Wait | None = None
    on_failure: tuple[str, ...] = ()
    rescue: bool = False


@dataclass(frozen=True)
class Runbook:
    name: str
    description: str
    path: Path
    parameters: dict[str, Parameter]
    steps: tuple[Step, ...]
    recovery: dict[str, Step]


def load_runbook(path: Path, operations: Mapping[str, Operation]) -> Runbook:
    """Parse and validate; ``operations`` are the engine's, by name."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RunbookError(f"{path}: cannot read runbook: {err.strerror}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(err, "problem", None) or "syntax error"
        raise RunbookError(f"{path}:{line}: not valid YAML ({problem})") from None
    return _Checker(path, operations).runbook(root)


class _Checker:
    def __init__(self, path: Path, operations: Mapping[str, Operation]) -> None:
        self.path = path
        self.operations = operations

    def fail(self, node: yaml.Node | None, message: str) -> RunbookError:
        line = node.start_mark.line + 1 if node is not None else 1
        return RunbookError(f"{self.path}:{line}: {message}")

    def value(self, node: yaml.Node) -> Any:
        """A node's Python value, as ``yaml.safe_load`` gives it for the node's own text
        (constructed from the node: writing it out and reading it again cost a third of a
        runbook's load).  A tag with no safe meaning (``!!python/...``) is refused."""
        try:
            return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or "a value fitelctl cannot read"
            mark = getattr(err, "problem_mark", None) or node.start_mark
            raise RunbookError(f"{self.path}:{mark.line + 1}: not valid YAML ({problem})") from None

    def mapping(self, node: yaml.Node | None, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        return {str(key.value): value for key, value in node.value}

    def runbook(self, root: yaml.Node | None) -> Runbook:
        top = self.mapping(root, "a runbook")
        unknown = set(top) - TOP_KEYS
        if unknown:
            raise self.fail(root, _unknown_key("", sorted(unknown)[0], TOP_KEYS))
        for key in ("name", "description", "steps"):
            if key not in top:
                raise self.fail(root, f"'{key}' is missing")
        parameters = (
            {
                name: self.parameter(name, node)
                for name, node in self.mapping(top["parameters"], "parameters").items()
            }
            if "parameters" in top
            else {}
        )
        recovery = [self.step(node) for node in self.sequence(top.get("recovery"), "recovery")]
        steps = [self.step(node) for node in self.sequence(top["steps"], "steps")]
        if not steps:
            raise self.fail(top["steps"], "a runbook needs at least one step")
        self.check_ids(steps, recovery, top)
        known = set(parameters) | {"site", "run_dir", "run_id"}
        seen: list[str] = []
        for step in [*steps, *recovery]:
            self.check_references(step, known, seen if step in steps else [s.id for s in steps])
            seen.append(step.id)
        return Runbook(
            name=self.scalar(top["name"], "name"),
            description=self.scalar(top["description"], "description"),
            path=self.path,
            parameters=parameters,
            steps=tuple(steps),
            recovery={step.id: step for step in recovery},
        )

    def sequence(self, node: yaml.Node | None, what: str) -> list[yaml.Node]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise self.fail(node, f"{what} must be a non-empty text")
        return str(node.value)

    def parameter(self, name: str, node: yaml.Node) -> Parameter:
        spec = self.mapping(node, f"parameter '{name}'")
        unknown = set(spec) - PARAMETER_KEYS
        if unknown:
            raise self.fail(
                node, _unknown_key(f"parameter '{name}': ", sorted(unknown)[0], PARAMETER_KEYS)
            )
        values = {key: self.value(value) for key, value in spec.items()}
        kind = values.get("type", "string")
        if kind not in PARAMETER_TYPES:
            raise self.fail(
                node, f"parameter '{name}': type must be one of {sorted(PARAMETER_TYPES)}"
            )
        return Parameter(
            name=name,
            type=kind,
            default=values.get("default"),
            required=bool(values.get("required", False)),
            minimum=values.get("min"),
            maximum=values.get("max"),
            choices=tuple(values.get("choices") or ()),
            help=str(values.get("help", "")),
        )

    def step(self, node: yaml.Node) -> Step:
        spec = self.mapping(node, "a step")
        unknown = set(spec) - STEP_KEYS
        if unknown:
            raise self.fail(node, _unknown_key("step: ", sorted(unknown)[0], STEP_KEYS))
        for key in ("id", "op"):
            if key not in spec:
                raise self.fail(node, f"step: '{key}' is missing")
        values = {key: self.value(value) for key, value in spec.items()}
        step_id = str(values["id"])
        op = str(values["op"])
        if op not in self.operations:
            close = difflib.get_close_matches(op, list(self.operations), n=1)
            known = ", ".join(sorted(self.operations))
            hint = f"did you mean `{close[0]}`?" if close else f"known: {known}"
            raise self.fail(spec["op"], f"step '{step_id}': unknown op '{op}' ({hint})")
        for key in ("args", "when"):
            if key in values and not isinstance(values[key], dict):
                raise self.fail(spec[key], f"step '{step_id}': {key} must be a mapping")
        arg_lines = self.check_args(step_id, self.operations[op], node, spec.get("args"))
        wait = None
        if "wait" in values:
            wait = self.wait(step_id, spec["wait"], values["wait"])
        on_failure = values.get("on_failure") or []
        if not isinstance(on_failure, list):
            raise self.fail(spec["on_failure"], f"step '{step_id}': on_failure must be a list")
        return Step(
            id=step_id,
            op=str(values["op"]),
            line=node.start_mark.line + 1,
            title=str(values.get("title") or values["op"]),
            args=values.get("args") or {},
            arg_lines=arg_lines,
            when=values.get("when") or {},
            confirm=str(values.get("confirm") or ""),
            wait=wait,
            on_failure=tuple(str(x) for x in on_failure),
            rescue=bool(values.get("rescue", False)),
        )

    def check_args(
        self, step_id: str, operation: Operation, step: yaml.Node, node: yaml.Node | None
    ) -> dict[str, int]:
        """The operation's declared arguments against the step's; each argument's line."""
        given = self.mapping(node, f"step '{step_id}': args") if node is not None else {}
        keys = {str(k.value): k for k, _ in node.value} if node is not None else {}
        where = f"step '{step_id}': "
        for name, key in keys.items():
            if operation.arg(name) is None:
                raise self.fail(key, where + operation.unknown(name))
        missing = operation.missing(given)
        if missing:
            raise self.fail(step, f"{where}{operation.name} needs argument `{missing[0]}`")
        for name, value_node in given.items():
            value = self.value(value_node)
            arg = operation.arg(name)
            if arg is None or (isinstance(value, str) and _references(value)):
                continue  # known when the run starts or the step runs: checked then
            try:
                arg.convert(value)
            except ValueError as err:
                raise self.fail(value_node, f"{where}`{name}` of {operation.name}: {err}") from None
        return {name: key.start_mark.line + 1 for name, key in keys.items()}

    def wait(self, step_id: str, node: yaml.Node, spec: Any) -> Wait:
        where = f"step '{step_id}': wait"
        if not isinstance(spec, dict) or not isinstance(spec.get("until"), dict):
            raise self.fail(node, f"{where} needs until: {{FIELD: VALUE}}")
        keys = self.mapping(node, where)
        for name in keys:
            if name not in WAIT_KEYS:
                raise self.fail(keys[name], _unknown_key(f"{where}: ", name, WAIT_KEYS))
        if "timeout" not in spec:
            raise self.fail(node, f"{where} needs a timeout")
        for name in ("timeout", "interval"):
            if name in spec and not _references(spec[name]):
                try:
                    wait_seconds(name, spec[name])
                except ValueError as err:
                    raise self.fail(keys[name], f"{where}: {err}") from None
        return Wait(spec["until"], spec["timeout"], spec.get("interval", 2))

    def check_ids(self, steps: list[Step], recovery: list[Step], top: dict[str, yaml.Node]) -> None:
        ids: set[str] = set()
        for step in [*steps, *recovery]:
            if step.id in ids:
                raise RunbookError(f"{self.path}:{step.line}: step id '{step.id}' is used twice")
            ids.add(step.id)
        recovery_ids = {step.id for step in recovery}
        for step in [*steps, *recovery]:
            for name in step.on_failure:
                if name not in recovery_ids:
                    raise RunbookError(
                        f"{self.path}:{step.line}: step '{step.id}': on_failure names "
                        f"'{name}', which is not a step under recovery:"
                    )

    def check_references(self, step: Step, params: set[str], earlier: list[str]) -> None:
        texts = [*_strings(step.args), *_strings(step.wait.timeout if step.wait else None)]
        texts += [*_strings(step.wait.interval if step.wait else None), step.confirm]
        texts += _strings(step.wait.until if step.wait else None)
        refs = [ref for text in texts for ref in REFERENCE.findall(text)]
        refs += [key for key in step.when]
        for ref in refs:
            head = ref.split(".")[0]
            if ref.startswith("steps."):
                target = ref.split(".")[1] if ref.count(".") >= 1 else ""
                if target not in earlier:
                    raise RunbookError(
                        f"{self.path}:{step.line}: step '{step.id}': '{ref}' refers to a step "
                        "that does not run before it"
                    )
            elif head not in params and head not in earlier:
                raise RunbookError(
                    f"{self.path}:{step.line}: step '{step.id}': unknown name '{ref}' "
                    "(not a parameter or an earlier step)"
                )


def wait_seconds(name: str, value: Any) -> float:
    """A wait's ``timeout`` (≥ 0) or ``interval`` (> 0) as seconds; ValueError if it is not."""
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number of seconds, not {value!r}") from None
    if seconds < 0 or (name == "interval" and seconds == 0):
        bound = "above" if name == "interval" else "at least"
        raise ValueError(f"`{name}` must be {bound} 0, not {value!r}")
    return seconds


def _unknown_key(where: str, name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(sorted(known))})"
    return f"{where}unknown key '{name}'{hint}"


def _references(value: Any) -> bool:
    return any(REFERENCE.search(text) for text in _strings(value))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
