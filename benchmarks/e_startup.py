"""(e) Start-up: ``fitelctl --version``, ``--help`` and ``parse`` against ``python3 -c pass``.

    python benchmarks/e_startup.py [--runs 20]

Whole processes, same interpreter for all (``sys.executable``, i.e. the venv's
``python3``), interleaved.  Also checks, with ``python -X importtime``, that these
commands import none of netmiko, scrapli, asyncssh, httpx (issue 6, item 3).
Needs nothing beyond the project's venv.  Target: ``--version`` within 0.15 s of
``python3 -c pass``.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial

import _bench

HEAVY = ("netmiko", "scrapli", "asyncssh", "httpx", "paramiko", "rich")
SAMPLE = _bench.REPO / "tests/parsers/furukawa_fitelnet/show_crypto_sa/ipsec_format_article.raw"
TARGET_S = 0.15


def imported_modules(args: list[str]) -> list[str]:
    """Top-level packages a command imports (from ``-X importtime``)."""
    proc = subprocess.run(
        [_bench.PYTHON, "-X", "importtime", "-m", "fitelctl", *args],
        capture_output=True,
        text=True,
        env=_bench.env(),
        cwd=_bench.REPO,
        check=False,
    )
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return sorted(names)


def main() -> None:
    args = _bench.parser(__doc__.splitlines()[0], runs=20).parse_args()
    _bench.warn_if_busy()
    commands = {
        "python3 -c pass": [_bench.PYTHON, "-c", "pass"],
        "fitelctl --version": _bench.fitelctl("--version"),
        "fitelctl --help": _bench.fitelctl("--help"),
        "fitelctl parse": _bench.fitelctl("parse", "show crypto sa", str(SAMPLE)),
    }
    samples = _bench.interleaved(
        {name: partial(_bench.run_timed, cmd) for name, cmd in commands.items()},
        runs=args.runs,
        warmup=args.warmup,
    )
    broken = {name: s.failures for name, s in samples.items() if not s.seconds}
    if broken:
        raise SystemExit(f"these commands failed, nothing to compare: {broken}")
    base = samples["python3 -c pass"]
    results = {}
    for name, cmd in commands.items():
        entry = samples[name].summary()
        if name != "python3 -c pass":
            entry["over_python_s"] = round(entry["median_s"] - base.summary()["median_s"], 4)
            mods = imported_modules(cmd[3:])
            entry["heavy_imports"] = [m for m in HEAVY if m in mods]
            entry["top_level_packages_imported"] = len(mods)
        results[name] = entry
    version_over = results["fitelctl --version"]["over_python_s"]
    doc = {
        "what": "whole-process wall time from spawn to exit; medians of interleaved runs",
        "results": results,
        "target": {
            "fitelctl --version over python3 -c pass (s)": TARGET_S,
            "measured (s)": version_over,
            "met": version_over <= TARGET_S,
        },
    }
    _bench.write_result("e_startup", doc, output=args.output)
    for name, entry in results.items():
        extra = (
            f" (+{entry['over_python_s']:.3f}s, heavy: {entry['heavy_imports']})"
            if ("over_python_s" in entry)
            else ""
        )
        print(f"{name:22} median {entry['median_s']:.3f}s{extra}")
    verdict = "met" if version_over <= TARGET_S else "MISSED"
    print(f"target: --version within {TARGET_S}s of python3 -c pass: {verdict}")
    sys.exit(0)


if __name__ == "__main__":
    main()
