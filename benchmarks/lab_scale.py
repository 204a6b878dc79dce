"""Is the lab the bottleneck?  One lab process serving N sites against two serving N/2 each.

    python benchmarks/lab_scale.py [--sites 200] [--runs 5]

Starts ``fitelctl lab up --sites N`` (arrangement "1x N") and two
``fitelctl lab up --sites N/2`` (arrangement "2x N/2"), all as separate
processes, and interleaves over each arrangement:

* N ``ssh`` exec processes started at once (the heaviest load a client puts on
  the lab: every handshake arrives within milliseconds);
* ``fitelctl status --all --json`` (default driver and workers).  For "2x N/2"
  the two labs' inventories are merged (the second lab's sites renamed ``b-...``,
  their secret references made absolute, both known_hosts joined); both labs model
  the same VPC router, so every site's cloud side is read on the first lab's API.

If one process were the limit, "2x N/2" would be faster on the same machine.  The
``lab_core_share`` of each run (CPU the labs used / wall time) says how busy the
lab was.  Needs ``ssh``.
"""

from __future__ import annotations

from pathlib import Path

import _bench
import yaml


def _absolute(ref: str, base: Path) -> str:
    return "file:" + str(base / ref.removeprefix("file:")) if ref.startswith("file:") else ref


def merged_inventory(first: _bench.LabProcess, second: _bench.LabProcess, dest: Path) -> Path:
    data = yaml.safe_load(first.inventory.read_text())
    sites = {}
    for lab, prefix in ((first, ""), (second, "b-")):
        for name, site in yaml.safe_load(lab.inventory.read_text())["sites"].items():
            device = site["device"]
            for key in ("password", "enable_password"):
                device[key] = _absolute(device[key], lab.state_dir)
            site["tunnel"]["psk"] = _absolute(site["tunnel"]["psk"], lab.state_dir)
            sites[prefix + name] = site
    data["sites"] = sites
    for key in ("token", "secret"):
        data["api"][key] = _absolute(data["api"][key], first.state_dir)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "known_hosts").write_text(
        (first.state_dir / "known_hosts").read_text()
        + (second.state_dir / "known_hosts").read_text()
    )
    path = dest / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main() -> None:
    p = _bench.parser(__doc__.splitlines()[0], runs=5)
    p.add_argument("--sites", type=int, default=200)
    args = p.parse_args()
    _bench.warn_if_busy()
    if _bench.have_ssh():
        raise SystemExit(f"lab_scale needs the OpenSSH client: {_bench.have_ssh()}")
    half = args.sites // 2
    with (
        _bench.lab(args.sites) as single,
        _bench.lab(half) as first,
        _bench.lab(args.sites - half) as second,
    ):
        merged = merged_inventory(first, second, first.state_dir / "merged")
        check = _bench.status_check(args.sites)
        one = f"1x{args.sites}"
        two = f"2x{half}"
        contenders = {
            f"parallel ssh, {one}": lambda: _bench.parallel_ssh(single.devices, single.state_dir),
            f"parallel ssh, {two}": lambda: _bench.parallel_ssh_many(
                [(first.devices, first.state_dir), (second.devices, second.state_dir)]
            ),
            f"fitelctl status, {one}": lambda: _bench.run_timed(
                _bench.fitelctl("-i", str(single.inventory), "status", "--all", "--json"),
                check=check,
            ),
            f"fitelctl status, {two}": lambda: _bench.run_timed(
                _bench.fitelctl("-i", str(merged), "status", "--all", "--json"), check=check
            ),
        }
        series = _bench.interleaved(
            contenders,
            runs=args.runs,
            warmup=args.warmup,
            lab=_bench.LabGroup([single, first, second]),
        )
        ready = {one: round(single.ready_seconds, 2), two: round(max(
            first.ready_seconds, second.ready_seconds), 2)}  # fmt: skip
    results = {name: s.summary() for name, s in series.items()}
    doc = {
        "what": "the same load on one lab process and on two; medians of interleaved runs",
        "sites": args.sites,
        "ready_s": ready,
        "results": results,
        "ratios": {
            f"parallel ssh {one} / {two}": _bench.ratio(
                series[f"parallel ssh, {one}"], series[f"parallel ssh, {two}"]
            ),
            f"fitelctl status {one} / {two}": _bench.ratio(
                series[f"fitelctl status, {one}"], series[f"fitelctl status, {two}"]
            ),
        },
    }
    _bench.write_result("lab_scale", doc, output=args.output)
    for name, entry in results.items():
        print(_bench.describe(name, entry))
    print(doc["ratios"])


if __name__ == "__main__":
    main()
