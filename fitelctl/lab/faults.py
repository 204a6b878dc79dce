"""``--fault SPEC`` parsing: what can go wrong in the lab, on purpose.

The specs and their effects: docs/output-contract.md#lab-faults.

Device faults may name one site (``SITE/commit-fails``, ``SITE/ssh-drop-after:N``);
without it they act on every device.  ``[SITE/]max-sessions:N``: the device holds at
most N SSH sessions: one more authenticates and its session channel is refused
(INFERRED: the F220's session limit and how it refuses are not published).

``ssh-drop-after:N@K`` drops only the K-th session (counted from 1, per device) that
sends configuration lines, once it sends more than N; plain ``ssh-drop-after:N`` drops
the first session that does.

API call indices (``api-503-at:N``, ``api-reset-at:N``, ``api-timeout-at:N``) count
every request the lab's API receives, from 1, since the lab started (a restarted lab
counts afresh).  A 503 or reset call is not done; a timed-out one is done and only
its answer is lost (held until the client gives up).

``[SITE/]kill-after:COMMAND[@N]`` and ``api-kill-after:N`` end the lab process with
SIGKILL (a crash, or a power cut of every device at once) right after it has
answered the N-th (from 1, default 1) occurrence of COMMAND on a device (or SITE's)
or the N-th API call.  COMMAND is a command line as sent, words separated by single
spaces (``commit``, ``show working.cfg``, ``set pfs group14``); it must be one the
device knows.  Answered means the whole answer is written: the output, and the next
prompt; for a command that asks (``save``) the answer to the question.  Only a lab in a
process of its own (``fitelctl lab up``) takes them; restarted on its state directory
it is a power cycle (``runner``).

Three faults need real IKE (``lab up --ike strongswan``): ``[SITE/]drop-ike`` (from the
start, the Internet drops the office's IKE packets, UDP 500 and 4500, both ways: its
negotiations meet real silence), ``[SITE/]esp-noise`` (a third party sends the office a
replayed and a forged ESP packet for each of its SAs every 2 s: real Replay and Auth
errors, ``strongswan.esp_noise``) and ``router-restart:SECONDS`` (the VPC router's
charon is restarted that long after the lab started, tunnels up or not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from fitelctl.errors import FitelctlError

KNOWN = (
    "[SITE/]ssh-drop-after:N[@K], [SITE/]commit-fails, wrong-psk, api-503:N, api-503-at:N, "
    "api-reset-at:N, api-timeout-at:N, api-slow:SECONDS, api-quirks, "
    "[SITE/]kill-after:COMMAND[@N], api-kill-after:N, [SITE/]max-sessions:N, "
    "[SITE/]drop-ike, [SITE/]esp-noise, router-restart:SECONDS"
)


class FaultError(FitelctlError):
    pass


@dataclass(frozen=True)
class DeviceFault:
    site: str | None = None  # None: every device
    ssh_drop_after: int | None = None  # drop a session sending more config lines
    ssh_drop_session: int | None = None  # only the K-th configuring session (from 1)
    commit_fails: bool = False  # the next commit is rejected
    kill_after: tuple[str, int] | None = None  # SIGKILL the lab after (COMMAND, N-th)
    max_sessions: int | None = None  # a session beyond N is refused after login
    drop_ike: bool = False  # the office's IKE packets are dropped (--ike strongswan)
    esp_noise: bool = False  # the office is sent replayed and forged ESP (--ike strongswan)


@dataclass(frozen=True)
class Faults:
    devices: tuple[DeviceFault, ...] = ()
    wrong_psk: bool = False  # the cloud side holds a different PSK
    api_503: int = 0  # the next N API calls answer 503
    api_503_at: int | None = None  # the Nth API call answers 503 (not done)
    api_reset_at: int | None = None  # the Nth API call's connection is reset (not done)
    api_timeout_at: int | None = None  # the Nth API call is done, its answer never sent
    api_slow: float = 0.0  # every API answer is delayed this long
    api_quirks: bool = False  # numbers as strings, connection details' lifetimes swapped
    api_kill_after: int | None = None  # SIGKILL the lab once the Nth API call is answered
    router_restart: float | None = None  # the router's charon restarts after S (strongswan)
    specs: tuple[str, ...] = field(default=(), compare=False)

    def for_device(self, site: str) -> DeviceFault:
        """The device faults that act on ``site`` (the last spec naming it wins)."""
        merged = DeviceFault(site)
        for fault in self.devices:
            if fault.site in (None, site):
                merged = DeviceFault(
                    site,
                    fault.ssh_drop_after
                    if fault.ssh_drop_after is not None
                    else merged.ssh_drop_after,
                    fault.ssh_drop_session
                    if fault.ssh_drop_after is not None
                    else merged.ssh_drop_session,
                    fault.commit_fails or merged.commit_fails,
                    fault.kill_after or merged.kill_after,
                    fault.max_sessions if fault.max_sessions is not None else merged.max_sessions,
                    fault.drop_ike or merged.drop_ike,
                    fault.esp_noise or merged.esp_noise,
                )
        return merged

    def sites(self) -> set[str]:
        return {f.site for f in self.devices if f.site is not None}

    @property
    def need_strongswan(self) -> bool:
        """Whether a fault only real IKE can do (``--ike strongswan``) is asked for."""
        return self.router_restart is not None or any(
            f.drop_ike or f.esp_noise for f in self.devices
        )

    @property
    def kill(self) -> bool:
        """Whether a fault ends the lab process."""
        return self.api_kill_after is not None or any(f.kill_after for f in self.devices)


def parse_faults(specs: list[str] | tuple[str, ...]) -> Faults:
    faults = Faults(specs=tuple(specs))
    for spec in specs:
        site, slash, rest = spec.partition("/")
        if not slash or ":" in site or " " in site:  # a "/" inside a command
            site, rest = "", spec
        name, _, arg = rest.partition(":")
        device = _device_fault(spec, site or None, name, arg)
        if device is not None:
            faults = replace(faults, devices=(*faults.devices, device))
        elif site:
            raise FaultError(f"--fault {spec}: only device faults may name a site")
        elif name == "wrong-psk" and not arg:
            faults = replace(faults, wrong_psk=True)
        elif name == "api-quirks" and not arg:
            faults = replace(faults, api_quirks=True)
        elif name == "api-503":
            faults = replace(faults, api_503=_number(spec, arg, int))
        elif name in ("api-503-at", "api-reset-at", "api-timeout-at", "api-kill-after"):
            index = _number(spec, arg, int)
            if index < 1:
                raise FaultError(f"--fault {spec}: calls are counted from 1")
            if name == "api-503-at":
                faults = replace(faults, api_503_at=index)
            elif name == "api-reset-at":
                faults = replace(faults, api_reset_at=index)
            elif name == "api-kill-after":
                faults = replace(faults, api_kill_after=index)
            else:
                faults = replace(faults, api_timeout_at=index)
        elif name == "router-restart":
            faults = replace(faults, router_restart=_number(spec, arg, float))
        elif name == "api-slow":
            faults = replace(faults, api_slow=_number(spec, arg, float))
        else:
            raise FaultError(f"--fault {spec}: unknown fault (known: {KNOWN})")
    return faults


def _device_fault(spec: str, site: str | None, name: str, arg: str) -> DeviceFault | None:
    if name == "commit-fails" and not arg:
        return DeviceFault(site, commit_fails=True)
    if name == "ssh-drop-after":
        lines, at, session = arg.partition("@")
        index = _number(spec, session, int) if at else None
        if index is not None and index < 1:
            raise FaultError(f"--fault {spec}: sessions are counted from 1")
        return DeviceFault(site, _number(spec, lines, int), index)
    if name == "kill-after":
        return DeviceFault(site, kill_after=_command_at(spec, arg))
    if name == "max-sessions":
        return DeviceFault(site, max_sessions=_number(spec, arg, int))
    if name == "drop-ike" and not arg:
        return DeviceFault(site, drop_ike=True)
    if name == "esp-noise" and not arg:
        return DeviceFault(site, esp_noise=True)
    return None


def _command_at(spec: str, arg: str) -> tuple[str, int]:
    """``COMMAND[@N]`` → (COMMAND with single spaces, N); the device must know COMMAND."""
    from fitelctl.lab.device.grammar import Failure
    from fitelctl.lab.device.syntax import MODES

    command, at, occurrence = arg.rpartition("@")
    if not at:
        command, occurrence = arg, "1"
    command = " ".join(command.split())
    index = _number(spec, occurrence, int)
    if index < 1:
        raise FaultError(f"--fault {spec}: occurrences are counted from 1")
    strict = [m for m in MODES.values() if m.root.fallback is None]  # no catch-all modes
    if not command or all(isinstance(m.parse(command), Failure) for m in strict):
        raise FaultError(f"--fault {spec}: the device knows no command '{command}'")
    return command, index


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
