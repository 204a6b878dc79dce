"""``fitelctl lab up``: the embedded lab (a simulated F220 per site over real SSH)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class SaFormatChoice(StrEnum):
    ipsec = "ipsec"
    ike_child = "ike_child"


class IkeChoice(StrEnum):
    model = "model"
    strongswan = "strongswan"


IKE_HELP = (
    "Who negotiates the tunnels: model (fitelctl's own IKE model, pure Python, no root) or "
    "strongswan (a real charon per F220 and for the VPC router, in network namespaces of "
    "their own; needs root and strongSwan 5.9, checked first; see the README's 'Real IKE')."
)


lab_app = typer.Typer(
    help="The embedded lab: simulated F220s on 127.0.0.1, no hardware needed. Its files, "
    "scenarios and faults: docs/output-contract.md#the-embedded-lab."
)


@lab_app.command("up")
def up(
    state_dir: Annotated[
        Path,
        typer.Option(
            "--state-dir",
            help="Where the lab keeps host keys, secrets and its state (a lab restarted on the "
            "same directory is a power cycle: devices boot their saved config) and writes "
            "inventory.yaml, known_hosts, lab.json and ready.",
        ),
    ],
    scenario: Annotated[
        str,
        typer.Option(
            help="seed-v1, seed-v2-pending, seed-v2, fresh or migration-stuck "
            "(see docs/output-contract.md#lab-scenarios)."
        ),
    ] = "seed-v1",
    sites: Annotated[
        int, typer.Option(min=1, max=1000, help="Number of sites (tokyo, site2…).")
    ] = 1,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="Inject a fault (repeatable): [SITE/]ssh-drop-after:N[@K] (drop the first, "
            "or the K-th, session sending more than N configuration lines), [SITE/]commit-fails, "
            "wrong-psk, api-503:N (the next N calls), api-503-at:N, api-reset-at:N, "
            "api-timeout-at:N (the Nth API call, from 1; a timed-out call is done, its answer "
            "lost), api-slow:SECONDS, api-quirks, [SITE/]kill-after:COMMAND[@N] and "
            "api-kill-after:N (SIGKILL this lab process once the N-th COMMAND line, e.g. "
            "'commit' or 'show working.cfg@2', or the N-th API call, is answered); with --ike "
            "strongswan also [SITE/]drop-ike (the office's IKE packets are dropped), "
            "[SITE/]esp-noise (the office is sent replayed and forged ESP: real Replay and Auth "
            "errors) and router-restart:SECONDS (the VPC router's charon restarts that long "
            "after start).",
        ),
    ] = None,
    sa_format: Annotated[
        SaFormatChoice,
        typer.Option(
            "--sa-format",
            help="`show crypto sa` layout: ipsec (IPSEC SA blocks, as in the source article) or "
            "ike_child (IKE_SA and CHILD_SA blocks, F220 V01.11; docs/domain.md#show-crypto-sa).",
        ),
    ] = SaFormatChoice.ipsec,
    device_config: Annotated[
        list[str] | None,
        typer.Option(
            "--device-config",
            metavar="SITE=FILE",
            help="Start SITE's device from the running config in FILE (working = current = "
            "boot) instead of the scenario's; repeatable. Every line must be one the lab "
            "device accepts.",
        ),
    ] = None,
    ike: Annotated[IkeChoice, typer.Option("--ike", help=IKE_HELP)] = IkeChoice.model,
) -> None:
    """Run the lab in the foreground until Ctrl-C or SIGTERM, then stop cleanly.

    Listens only on 127.0.0.1 (free ports). The addresses inside the configs
    (27.133.132.134 …) are data: nothing is ever sent to them.
    """
    from fitelctl.lab.runner import LabOptions, run_foreground

    state_dir.mkdir(parents=True, exist_ok=True)
    options = LabOptions(
        state_dir=state_dir.resolve(),
        scenario=scenario,
        sites=sites,
        faults=tuple(fault or ()),
        sa_format=sa_format.value,
        device_configs=tuple(device_config or ()),
        ike=ike.value,
    )
    _warnings_to_stderr()
    run_foreground(options, announce=lambda line: print(line, flush=True, file=sys.stdout))


def _warnings_to_stderr() -> None:
    """What the running lab finds wrong (a committed config its charons cannot be given)
    as one ``fitelctl: lab: …`` line on stderr each."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("fitelctl: lab: %(message)s"))
    logging.getLogger("fitelctl.lab").addHandler(handler)
