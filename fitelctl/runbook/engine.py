"""Run a runbook: parameters, steps, waits, confirmations, recovery, records, resume.

Every event goes to a run record (JSON lines under ``<inventory>/runs/``, secrets
redacted): the parameters, each step's start and end with its data, and at the
end a snapshot of both sides.  ``--resume`` reads the latest unfinished record
of the same runbook and site, takes the data of the steps that ended ``ok``
from it and goes on from the first step that did not: a step that completed
is never run twice.  A completed step that a recovery step then undid (a
recovery step of the same operation listed in the completed step's
``on_failure``, such as ``router-back`` for rotate-psk's ``router``) no longer
counts as completed: its change is gone, so the resume makes it again (found by
the fault sweep: resuming rotate-psk after a failed device step set the new key
on the F220 only, the router having been put back to the old one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fitelctl.deadline import Deadline, command_deadline, current
from fitelctl.errors import FitelctlError
from fitelctl.private_files import append_private_line, private_directory
from fitelctl.redact import SECRETS
from fitelctl.runbook.format import REFERENCE, Parameter, Runbook, Step, wait_seconds
from fitelctl.runbook.steps import OPERATIONS, StepContext, StepResult


class RunError(FitelctlError):
    """The run cannot start (bad parameters, nothing to resume)."""


@dataclass
class RunOptions:
    site: str
    variables: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    resume: bool = False
    confirm: Callable[[str], bool] = lambda question: False
    progress: Callable[[str], None] = lambda line: None


@dataclass
class RunResult:
    ok: bool
    record: Path | None
    failed_step: str | None = None
    snapshot: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)


# --- parameters and substitution ----------------------------------------------------


def resolve_parameters(runbook: Runbook, given: dict[str, str]) -> dict[str, Any]:
    unknown = set(given) - set(runbook.parameters)
    if unknown:
        known = ", ".join(runbook.parameters) or "none"
        raise RunError(f"{runbook.name}: unknown --var {sorted(unknown)[0]} (parameters: {known})")
    values: dict[str, Any] = {}
    for name, spec in runbook.parameters.items():
        if name in given:
            values[name] = _convert(runbook.name, spec, given[name])
        elif spec.required:
            raise RunError(f"{runbook.name}: --var {name}=... is required ({spec.help})")
        else:
            values[name] = spec.default
    return values


def _convert(runbook: str, spec: Parameter, raw: str) -> Any:
    try:
        return spec.convert(raw)
    except ValueError as err:
        raise RunError(f"{runbook}: --var {spec.name}={raw}: {err}") from None


def check_arguments(runbook: Runbook, scope: dict[str, Any]) -> None:
    """Check every step argument that ``scope`` (the parameters) decides, before anything runs.

    The file's literals were checked when it was loaded; this checks what comes from
    ``${parameter}``.  Values that need an earlier step's result are checked when
    that step has run (``Operation.check``).
    """
    for step in [*runbook.steps, *runbook.recovery.values()]:
        operation = OPERATIONS[step.op]
        where = f"{runbook.path}:{step.line}: step '{step.id}'"
        for name, value in step.args.items():
            arg = operation.arg(name)
            known = _known(value, scope)
            if arg is None or known is _UNKNOWN:
                continue
            try:
                arg.convert(known)
            except ValueError as err:
                line = step.arg_lines.get(name, step.line)
                raise RunError(
                    f"{runbook.path}:{line}: step '{step.id}': `{name}` of {step.op} "
                    f"(from {value!r}): {err}"
                ) from None
        if step.wait is not None:
            for name, value in (("timeout", step.wait.timeout), ("interval", step.wait.interval)):
                known = _known(value, scope)
                if known is _UNKNOWN:
                    continue
                try:
                    wait_seconds(name, known)
                except ValueError as err:
                    raise RunError(f"{where}: wait {value!r}: {err}") from None


_UNKNOWN = object()


def _known(value: Any, scope: dict[str, Any]) -> Any:
    try:
        return substitute(value, scope)
    except KeyError:
        return _UNKNOWN


def lookup(path: str, scope: dict[str, Any]) -> Any:
    """``name``, ``steps.ID.a.b`` or ``ID.a.0.b`` in the run's scope; KeyError if absent."""
    parts = path.removeprefix("steps.").split(".") if path.startswith("steps.") else path.split(".")
    value: Any = scope
    for part in parts:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(path)
    return value


def substitute(value: Any, scope: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: substitute(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, scope) for v in value]
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value)
    if whole:
        return lookup(whole.group(1), scope)
    return REFERENCE.sub(lambda m: str(lookup(m.group(1), scope)), value)


def matches(condition: dict[str, Any], scope: dict[str, Any]) -> bool:
    """Every ``path: expected`` holds (a list of expected values means any of them)."""
    for path, expected in condition.items():
        try:
            actual = lookup(path, scope)
        except KeyError:
            return False
        wanted = expected if isinstance(expected, list) else [expected]
        if actual not in wanted:
            return False
    return True


# --- records ------------------------------------------------------------------------


class RunRecord:
    """The JSON-lines record of one run (private: it may name backups and files)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, runs: Path, runbook: str, site: str, *, root: Path) -> RunRecord:
        """A new record in ``runs`` (0700, refused where others can write: it also
        receives the runbooks' settings exports and generated keys)."""
        private_directory(runs, root=root)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        return cls(runs / f"{runbook}-{site}-{stamp}.jsonl")

    def write(self, event: str, **fields: Any) -> None:
        entry = {"time": datetime.now(UTC).isoformat(), "event": event, **fields}
        append_private_line(
            self.path, SECRETS.redact(json.dumps(entry, ensure_ascii=False, default=str))
        )

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]

    @classmethod
    def latest_unfinished(cls, runs: Path, runbook: str, site: str) -> RunRecord | None:
        for path in sorted(runs.glob(f"{runbook}-{site}-*.jsonl"), reverse=True):
            record = cls(path)
            ends = [e for e in record.events() if e["event"] == "end"]
            return None if ends and ends[-1]["ok"] else record
        return None


# --- the run ------------------------------------------------------------------------


def describe(step: Step, scope: dict[str, Any]) -> str:
    """The step as dry-run shows it: op and arguments, substituted where already known."""

    def show(value: Any) -> Any:
        try:
            return substitute(value, scope)
        except KeyError:
            return value

    parts = [f"{step.id}: {step.op}"]
    args = show(step.args)
    if args:
        parts.append(json.dumps(args, default=str))
    if step.when:
        parts.append(f"when {json.dumps(step.when)}")
    if step.confirm:
        parts.append(f"asks: {show(step.confirm)!r}")
    if step.wait:
        parts.append(
            f"waits until {json.dumps(step.wait.until)} (timeout {show(step.wait.timeout)}s, "
            f"every {show(step.wait.interval)}s)"
        )
    if step.on_failure:
        parts.append(
            f"on failure: {', '.join(step.on_failure)}{' (rescues)' if step.rescue else ''}"
        )
    return SECRETS.redact("  ".join(parts))


def run_runbook(ctx: StepContext, runbook: Runbook, options: RunOptions) -> RunResult:
    runs = ctx.inventory.path(Path("runs"))
    done: dict[str, dict[str, Any]] = {}
    if options.resume:
        record = RunRecord.latest_unfinished(runs, runbook.name, options.site)
        if record is None:
            raise RunError(f"{runbook.name}: no unfinished run for site {options.site} to resume")
        events = record.events()
        variables = events[0]["variables"]
        check_arguments(runbook, {**variables, "site": options.site, "run_dir": "", "run_id": ""})
        main_steps = {step.id for step in runbook.steps}
        for event in events:
            if event["event"] == "step" and event["status"] == "ok" and event["step"] in main_steps:
                done[event["step"]] = event.get("data", {})
            elif event["event"] == "step" and event["status"] == "ok":
                for undone in _undone_by(runbook, event["step"]):
                    done.pop(undone, None)
        run_id = events[0]["run_id"]
    else:
        variables = resolve_parameters(runbook, options.variables)
        check_arguments(runbook, {**variables, "site": options.site, "run_dir": "", "run_id": ""})
        record = (
            None
            if options.dry_run
            else RunRecord.create(runs, runbook.name, options.site, root=ctx.inventory.base_dir)
        )
        run_id = record.path.stem if record else "dry-run"
    ctx.run_dir = runs
    scope: dict[str, Any] = {
        **variables,
        "site": options.site,
        "run_dir": str(runs),
        "run_id": run_id,
        **done,
    }
    if options.dry_run:
        lines = [describe(step, scope) for step in runbook.steps]
        lines += [f"recovery {describe(step, scope)}" for step in runbook.recovery.values()]
        return RunResult(True, None, lines=lines)
    assert record is not None
    if not options.resume:
        record.write(
            "start", runbook=runbook.name, site=options.site, run_id=run_id, variables=variables
        )
    else:
        record.write("resume", skipping=sorted(done))
    for number, step in enumerate(runbook.steps, start=1):
        label = f"[{number}/{len(runbook.steps)}] {step.title}"
        if step.id in done:
            options.progress(f"{label}: done in the earlier run, skipped")
            continue
        result = _run_step(ctx, step, scope, options, record, label)
        if result is None:
            continue
        if result.ok:
            scope[step.id] = result.data
            continue
        with _time_to_recover():
            rescued = _recover(ctx, runbook, step, scope, options, record)
        if rescued:
            scope[step.id] = result.data
            record.write(
                "step", step=step.id, status="ok", summary="rescued by recovery", data=result.data
            )
            continue
        with _time_to_recover():
            snapshot = _snapshot(ctx, options)
        record.write("end", ok=False, failed_step=step.id, snapshot=snapshot)
        return RunResult(False, record.path, step.id, snapshot)
    snapshot = _snapshot(ctx, options)
    record.write("end", ok=True, snapshot=snapshot)
    return RunResult(True, record.path, None, snapshot)


def _run_step(
    ctx: StepContext,
    step: Step,
    scope: dict[str, Any],
    options: RunOptions,
    record: RunRecord,
    label: str,
) -> StepResult | None:
    """Run one step (with its wait); None when its ``when`` does not hold."""
    if step.when and not matches(step.when, scope):
        options.progress(f"{label}: skipped (condition not met)")
        record.write("step", step=step.id, status="skipped")
        return None
    try:
        args = substitute(step.args, scope)
        question = substitute(step.confirm, scope) if step.confirm else ""
    except KeyError as err:
        result = StepResult(False, f"no value for {err.args[0]}")
        record.write("step", step=step.id, status="failed", summary=result.summary)
        return result
    if question and not options.confirm(question):
        result = StepResult(False, "not confirmed by the operator")
        options.progress(f"{label}: not confirmed")
        record.write("step", step=step.id, status="failed", summary=result.summary)
        return result
    options.progress(f"{label} ...")
    record.write("step", step=step.id, status="started", op=step.op, args=args)
    started = time.monotonic()
    result = _attempt(ctx, step, args, scope)
    elapsed = time.monotonic() - started
    status = "ok" if result.ok else "failed"
    options.progress(f"{label}: {status} ({elapsed:.1f}s) {SECRETS.redact(result.summary)}")
    record.write(
        "step",
        step=step.id,
        status=status,
        summary=result.summary,
        changed=result.changed,
        data=result.data,
    )
    return result


def _attempt(
    ctx: StepContext, step: Step, args: dict[str, Any], scope: dict[str, Any]
) -> StepResult:
    operation = OPERATIONS[step.op]
    if step.wait is None:
        return _call(operation, ctx, args)
    try:
        timeout = wait_seconds("timeout", substitute(step.wait.timeout, scope))
        interval = wait_seconds("interval", substitute(step.wait.interval, scope))
    except ValueError as err:
        return StepResult(False, f"wait: {err}")
    deadline = time.monotonic() + timeout
    until = substitute(step.wait.until, scope)
    while True:
        result = _call(operation, ctx, args)
        if result.ok and matches(until, {**scope, **result.data}):
            return result
        if time.monotonic() >= deadline or current().expired:
            within = f"{timeout:g}s" if time.monotonic() >= deadline else "the run's deadline"
            return StepResult(
                False,
                f"not {json.dumps(until)} within {within} (last: {result.summary})",
                result.data,
                result.changed,
            )
        current().sleep(interval)


def _time_to_recover() -> AbstractContextManager[Deadline]:
    """The run's time again (``--timeout``) for recovery and the closing snapshot: a step
    that failed because time ran out must still be undone, and both sides shown."""
    return command_deadline(current().seconds)


def _call(operation: Any, ctx: StepContext, args: dict[str, Any]) -> StepResult:
    try:
        result: StepResult = operation(ctx, args)
    except FitelctlError as err:
        return StepResult(False, str(err))
    return result


def _recover(
    ctx: StepContext,
    runbook: Runbook,
    failed: Step,
    scope: dict[str, Any],
    options: RunOptions,
    record: RunRecord,
) -> bool:
    """Run the failed step's recovery steps; True when they rescue the run."""
    if not failed.on_failure:
        return False
    for name in failed.on_failure:
        step = runbook.recovery[name]
        result = _run_step(ctx, step, scope, options, record, f"  recovery {step.title}")
        if result is None:
            continue
        if not result.ok:
            return False
        scope[step.id] = result.data
    return failed.rescue


def _undone_by(runbook: Runbook, recovery_id: str) -> list[str]:
    """The main steps whose change the recovery step ``recovery_id`` puts back."""
    recovery = runbook.recovery.get(recovery_id)
    if recovery is None:
        return []
    return [
        step.id
        for step in runbook.steps
        if recovery_id in step.on_failure and not step.rescue and step.op == recovery.op
    ]


def _snapshot(ctx: StepContext, options: RunOptions) -> dict[str, Any]:
    """Both sides as they are now, so the operator never guesses after a failure."""
    from fitelctl.runbook.steps import diff, status

    snapshot: dict[str, Any] = {}
    for name, operation in (("status", status), ("config", diff)):
        result = _call(operation, ctx, {})
        snapshot[name] = {"ok": result.ok, "summary": result.summary, "data": result.data}
    options.progress(
        f"state now (judged against the inventory file): {snapshot['status']['summary']}"
    )
    options.progress(f"device config vs the inventory file: {snapshot['config']['summary']}")
    return snapshot
