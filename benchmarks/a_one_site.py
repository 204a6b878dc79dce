"""(a) One site: ``fitelctl status SITE`` (whole process) against OpenSSH's exec floor.

    python benchmarks/a_one_site.py [--runs 15]

Starts ``fitelctl lab up --sites 1`` in its own process, then interleaves, on the
same lab device:

* ``ssh ... admin@127.0.0.1 "show crypto sa"``: OpenSSH's one-shot exec with
  public-key login, the floor for reading one site;
* ``fitelctl status tokyo --json`` with each driver (asyncssh, scrapli, netmiko): the
  whole process: interpreter start, inventory, one VPC router read on the lab's
  API, the interactive CLI session (login, enable, ``show crypto sa``), parsing,
  the verdict;
* ``fitelctl status tokyo --json`` handed to a running ``fitelctl daemon`` (asyncssh,
  the default driver): the same command line, its process started afresh, run by a
  child of the preloaded daemon (a fresh login and API read all the same);
* for context, ``python3 -c pass`` and ``fitelctl --version`` (start-up alone).

Needs: the ``ssh`` client for the floor (without it the floor is skipped and
the ratios are absent).  Target (issue 14): ``status`` within 2x the floor.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import _bench

TARGET = 2.0
DAEMON = "fitelctl status (daemon)"


def _has_sa(code: int, out: bytes) -> None:
    if code != 0 or b"IPSEC SA" not in out:
        raise _bench.RunFailed(f"exit {code}, no IPsec SA in the answer")


def main() -> None:
    args = _bench.parser(__doc__.splitlines()[0], runs=15).parse_args()
    _bench.warn_if_busy()
    no_ssh = _bench.have_ssh()
    if no_ssh:
        print(f"note: OpenSSH floor skipped: {no_ssh}")
    with _bench.lab(1) as lab, _bench.daemon() as on_daemon:
        device = lab.devices[0]
        inventory = str(lab.inventory)
        check = _bench.status_check(1)
        contenders = {
            "python3 -c pass": lambda: _bench.run_timed([_bench.PYTHON, "-c", "pass"]),
            "fitelctl --version": lambda: _bench.run_timed(_bench.fitelctl("--version")),
        }
        if not no_ssh:
            ssh = _bench.ssh_exec(device, lab.state_dir)
            contenders["ssh exec (floor)"] = lambda: _bench.run_timed(ssh, check=_has_sa)
        for driver in _bench.DRIVERS:
            cmd = _bench.fitelctl(
                "-i", inventory, "status", device["site"], "--json", "--driver", driver
            )
            contenders[f"fitelctl status ({driver})"] = partial(_bench.run_timed, cmd, check=check)
        cmd = _bench.fitelctl("-i", inventory, "status", device["site"], "--json")
        contenders[DAEMON] = partial(_bench.run_timed, cmd, check=check, extra_env=on_daemon)
        samples = _bench.interleaved(contenders, runs=args.runs, warmup=args.warmup)
    results = {name: s.summary() for name, s in samples.items()}
    targets: dict[str, Any] = {}
    if not no_ssh:
        floor = samples["ssh exec (floor)"]
        for name in [f"fitelctl status ({driver})" for driver in _bench.DRIVERS] + [DAEMON]:
            value = _bench.ratio(samples[name], floor)
            results[name]["ratio_to_floor"] = value
            targets[f"{name.removeprefix('fitelctl ')} / ssh exec"] = {
                "target": TARGET,
                "measured": value,
                "met": value is not None and value <= TARGET,
            }
    doc = {
        "what": "whole-process wall time, one lab site; medians of interleaved runs",
        "sites": 1,
        "results": results,
        "targets": targets or {"skipped": no_ssh},
    }
    _bench.write_result("a_one_site", doc, output=args.output)
    for name, entry in results.items():
        extra = f" ({entry['ratio_to_floor']}x floor)" if "ratio_to_floor" in entry else ""
        print(f"{name:28} median {entry.get('median_s', float('nan')):.3f}s{extra}")


if __name__ == "__main__":
    main()
