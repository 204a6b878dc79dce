"""``--fault SPEC`` parsing (CONTRACT.md): what can go wrong in the lab, on purpose."""

from __future__ import annotations

from dataclasses import dataclass

from fitelctl.errors import FitelctlError

#: Faults that act on the lab's Sakura API, which this version does not serve yet.
API_FAULTS = ("api-503", "api-slow")


class FaultError(FitelctlError):
    pass


@dataclass(frozen=True)
class Faults:
    ssh_drop_after: int | None = None
    commit_fails: bool = False
    wrong_psk: bool = False


def parse_faults(specs: list[str] | tuple[str, ...]) -> Faults:
    drop: int | None = None
    commit_fails = wrong_psk = False
    for spec in specs:
        name, _, arg = spec.partition(":")
        if name == "ssh-drop-after":
            if not arg.isdigit():
                raise FaultError(
                    f"--fault {spec}: expected ssh-drop-after:N with N a number of lines"
                )
            drop = int(arg)
        elif name == "commit-fails" and not arg:
            commit_fails = True
        elif name == "wrong-psk" and not arg:
            wrong_psk = True
        elif name in API_FAULTS:
            raise FaultError(
                f"--fault {spec}: the lab does not serve the Sakura API yet, so API faults "
                "cannot be injected"
            )
        else:
            raise FaultError(
                f"--fault {spec}: unknown fault (known: ssh-drop-after:N, commit-fails, wrong-psk)"
            )
    return Faults(ssh_drop_after=drop, commit_fails=commit_fails, wrong_psk=wrong_psk)
