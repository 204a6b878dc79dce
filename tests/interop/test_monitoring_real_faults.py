"""Real faults through the whole monitoring path: a real charon refuses replayed and
forged ESP (the lab's ``esp-noise`` fault), `show crypto sa` counts the refusals, the
exporter reads them over SSH, and a real Prometheus with the shipped alert rules fires
``FitelctlSaErrorsRising`` for that site and those kinds, and for nothing else.

Needs root, strongSwan (``require_strongswan``) and Prometheus (``monitoring.tool``):
under CI a missing one fails the test, never skips it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, leftovers_lock, require_strongswan, settles
from monitoring import query, running_prometheus, serving, values

from fitelctl.lab.runner import BackgroundLab, LabOptions

pytestmark = pytest.mark.interop

EXAMPLES = ROOT / "examples/prometheus"
ALERT = "FitelctlSaErrorsRising"


def metrics_job_config(exporter_port: int, tmp_path: Path) -> Path:
    """The example's /metrics job aimed at this exporter, the shipped rules, 1 s steps."""
    example = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
    (job,) = [job for job in example["scrape_configs"] if job["job_name"] == "fitelctl"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{exporter_port}"]}]
    shutil.copy(EXAMPLES / "fitelctl-rules.yml", tmp_path / "fitelctl-rules.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["fitelctl-rules.yml"],
        "scrape_configs": [job],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_refused_esp_fires_the_shipped_errors_alert_for_that_site_only(tmp_path: Path) -> None:
    require_strongswan()
    options = LabOptions(
        state_dir=tmp_path / "lab",
        scenario="seed-v2",
        sites=2,
        faults=("tokyo/esp-noise",),
        ike="strongswan",
    )
    with leftovers_lock(exclusive=False):  # its start removes dead labs' namespaces
        background = BackgroundLab(options)
        background.__enter__()
    try:
        with (
            serving(background.lab) as exporter,
            running_prometheus(metrics_job_config(exporter.port, tmp_path), tmp_path) as url,
        ):

            def firing() -> set[tuple[object, object]]:
                alerts = query(url, f'ALERTS{{alertname="{ALERT}",alertstate="firing"}}')
                return {
                    (alert["metric"]["site"], alert["metric"]["kind"])  # type: ignore[index]
                    for alert in alerts
                }

            assert settles(lambda: firing() == {("tokyo", "replay"), ("tokyo", "auth")}, 60), (
                firing(),
                values(url, "fitelctl_ipsec_sa_errors_total"),
            )
            # both tunnels stay up: the noise is refused, the good traffic flows
            assert values(url, "fitelctl_tunnel_up") == {"tokyo": 1.0, "site2": 1.0}
            assert values(url, 'ALERTS{alertstate="firing"}').keys() == {"tokyo"}
    finally:
        background.__exit__(None, None, None)
