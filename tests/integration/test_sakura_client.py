"""The Sakura client against the lab's API over real HTTP on 127.0.0.1.

Each test starts the lab API in-process on a free port (its own event loop in a
thread, ready before use); the world behind it is the article's tokyo site.
Waits for power transitions poll with a bound, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from helpers import closed_port
from pydantic import SecretStr

from fitelctl.deadline import Deadline, DeadlineExceeded
from fitelctl.lab.api_server import ApiServer, start_api_server
from fitelctl.lab.device.editing import replay_config
from fitelctl.lab.device.model import DeviceSpec, LabDevice
from fitelctl.lab.scenarios import (
    VPC_ROUTER_ADDRESS,
    DeviceCrypto,
    device_config,
    site_addresses,
)
from fitelctl.lab.world import LabWorld, PeerEntry, VpcRouter
from fitelctl.sakura import errors
from fitelctl.sakura.client import SakuraClient
from fitelctl.sakura.config import ApiSettings, resolve_api_settings

TOKYO = site_addresses(0)
DATA = Path(__file__).resolve().parents[1] / "data" / "sakura"
T = TypeVar("T")


@dataclass
class LabApi:
    server: ApiServer
    world: LabWorld
    device: LabDevice
    token: str
    secret: str
    psk: str
    loop: asyncio.AbstractEventLoop

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the lab's loop: the world belongs to that thread."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)

    def settings(self, **changes: Any) -> ApiSettings:
        base = ApiSettings(
            token=self.token,
            secret=self.secret,
            zone="tk1v",
            root_url=self.server.root_url,
            retry_max=3,
            timeout=5.0,
            retry_wait_min=0.01,
            retry_wait_max=0.05,
            rate_limit=1000.0,
        )
        return replace(base, **changes)

    def client(self, **changes: Any) -> SakuraClient:
        return SakuraClient(self.settings(**changes))

    @property
    def id(self) -> int:
        return self.server.appliance_id

    def commit_device(self, crypto: DeviceCrypto) -> None:
        def commit() -> None:
            self.device.working = replay_config(device_config(TOKYO, crypto, self.psk))
            self.device.commit()

        self.call(commit)

    def causes(self) -> list[str]:
        return self.call(lambda: [o.cause for o in self.world.outcome("tokyo")])


StartLabApi = Callable[..., LabApi]


@pytest.fixture
def lab_api() -> Iterator[StartLabApi]:
    """``lab_api(version=2, crypto="v2", **start_api_server options)`` → a running LabApi."""
    with ExitStack() as stack:

        def start(*, version: int = 2, crypto: DeviceCrypto = "v2", **options: Any) -> LabApi:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, daemon=True)
            thread.start()
            token, secret = secrets.token_hex(12), secrets.token_urlsafe(18)
            psk = "psk-" + secrets.token_hex(8)

            async def build() -> tuple[LabWorld, LabDevice, ApiServer]:
                world = LabWorld()
                router = VpcRouter(
                    VPC_ROUTER_ADDRESS,
                    version,
                    encryption_algo="aes256",
                    hash_algo="sha256",
                    dh_group="modp2048",
                )
                router.peers.append(PeerEntry(TOKYO.public, TOKYO.wan, psk))
                world.add_router(router)
                spec = DeviceSpec(
                    site="tokyo",
                    hostname="tokyo",
                    username="u",
                    password="p",
                    enable_password="e",
                    boot_config=device_config(TOKYO, crypto, psk),
                )
                device = LabDevice(spec)
                world.add_site(device, public_address=TOKYO.public)
                options.setdefault("transition_seconds", 0.05)
                server = await start_api_server(world, token=token, secret=secret, **options)
                return world, device, server

            world, device, server = asyncio.run_coroutine_threadsafe(build(), loop).result(10)

            def stop() -> None:
                asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)
                loop.close()

            stack.callback(stop)
            return LabApi(server, world, device, token, secret, psk, loop)

        yield start


def wait_for(client: SakuraClient, lab: LabApi, **state: str) -> None:
    client.wait_for_state(lab.id, timeout=5.0, interval=0.02, **state)


def test_read_a_vpc_router(lab_api: StartLabApi) -> None:
    lab = lab_api()
    with lab.client() as client:
        appliance = client.read_appliance(lab.id)
    assert (appliance.ID, appliance.Class, appliance.vpc_router_version) == (lab.id, "vpcrouter", 2)
    assert (appliance.Availability, appliance.instance_status) == ("available", "up")
    assert len(appliance.SettingsHash) == 32
    vpn = appliance.site_to_site
    assert vpn is not None and vpn.Enabled and vpn.DHGroup == "modp2048"
    (peer,) = vpn.peers
    assert (peer.Peer, peer.RemoteID) == (TOKYO.public, TOKYO.wan)
    assert peer.PreSharedSecret.get_secret_value() == lab.psk
    assert lab.psk not in repr(appliance)
    assert (
        appliance.Remark is not None and appliance.Remark.Servers[0].IPAddress == VPC_ROUTER_ADDRESS
    )


def test_ids_are_strings_unless_asked_as_integers(lab_api: StartLabApi) -> None:
    lab = lab_api()
    url = f"{lab.server.root_url}tk1v/api/cloud/1.1/appliance/{lab.id}"
    auth = (lab.token, lab.secret)
    plain = httpx.get(url, auth=auth).json()["Appliance"]
    asked = httpx.get(url, auth=auth, headers={"X-Sakura-Bigint-As-Int": "1"}).json()["Appliance"]
    assert plain["ID"] == str(lab.id) and asked["ID"] == lab.id
    assert plain["Remark"]["Zone"]["ID"] == "29001" and asked["Remark"]["Zone"]["ID"] == 29001


def test_settings_update_needs_the_current_hash_and_takes_effect_on_apply(
    lab_api: StartLabApi,
) -> None:
    lab = lab_api()
    with lab.client() as client:
        before = client.read_appliance(lab.id)
        assert before.Settings is not None and before.site_to_site is not None
        before.site_to_site.DHGroup = "modp3072"
        after = client.update_settings(lab.id, before.Settings, before.SettingsHash)
        assert after.SettingsHash != before.SettingsHash
        assert after.site_to_site is not None and after.site_to_site.DHGroup == "modp3072"
        # saved but not applied: the tunnel still runs the old group
        assert lab.causes() == ["ok"] and client.status(lab.id).SiteToSiteIPsecVPNPeers[0].up
        with pytest.raises(errors.ConflictError) as stale:
            client.update_settings(lab.id, before.Settings, before.SettingsHash)
        client.apply_config(lab.id)
        assert lab.causes() == ["proposal_mismatch_main_mode"]
        assert not client.status(lab.id).SiteToSiteIPsecVPNPeers[0].up
    message = str(stale.value)
    assert "409" in message and "SettingsHash" in message and "read the appliance again" in message


def test_applying_config_renegotiates_and_logs_it(lab_api: StartLabApi) -> None:
    lab = lab_api()
    seeds = lab.call(lambda: [t.seed for t in lab.world.sites["tokyo"].tunnels])
    with lab.client() as client:
        established = client.vpn_log(lab.id).Log.count("CHILD_SA")
        client.apply_config(lab.id)
        assert lab.call(lambda: [t.seed for t in lab.world.sites["tokyo"].tunnels]) != seeds
        log = client.vpn_log(lab.id)
    assert log.Log.count("CHILD_SA") == established + 1
    assert (
        "selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
        in log.Log
    )
    assert lab.psk not in log.Log


def test_a_changed_psk_shows_in_status_and_log(lab_api: StartLabApi) -> None:
    lab = lab_api()
    with lab.client() as client:
        appliance = client.read_appliance(lab.id)
        assert appliance.Settings is not None and appliance.site_to_site is not None
        (peer,) = appliance.site_to_site.peers
        peer.PreSharedSecret = SecretStr("other-key-5e")
        client.update_settings(lab.id, appliance.Settings, appliance.SettingsHash)
        client.apply_config(lab.id)
        status = client.status(lab.id)
    assert lab.causes() == ["psk_mismatch"]
    peer_status = status.peer(TOKYO.public)
    assert peer_status is not None and peer_status.Status == "DOWN"
    assert any(
        line.endswith("invalid ID_V1 payload length, decryption failed?") for line in status.VPNLogs
    )


def test_power_off_and_on_take_time_and_move_the_tunnels(lab_api: StartLabApi) -> None:
    lab = lab_api(transition_seconds=0.5)
    with lab.client() as client:
        client.shutdown(lab.id)
        assert client.read_appliance(lab.id).instance_status != "down"  # not instantly
        assert lab.causes() == ["router_down"]
        wait_for(client, lab, instance_status="down")
        assert client.status(lab.id).SiteToSiteIPsecVPNPeers == []
        with pytest.raises(errors.ConflictError, match="already off"):
            client.shutdown(lab.id)
        client.boot(lab.id)
        assert client.read_appliance(lab.id).instance_status == "down"
        wait_for(client, lab, instance_status="up")
        assert lab.causes() == ["ok"]
        assert client.status(lab.id).SiteToSiteIPsecVPNPeers[0].up
        with pytest.raises(errors.ConflictError, match="already running"):
            client.boot(lab.id)


def test_reset_renegotiates_with_new_spis(lab_api: StartLabApi) -> None:
    lab = lab_api(version=1, crypto="v1")
    seeds = lab.call(lambda: [t.seed for t in lab.world.sites["tokyo"].tunnels])
    with lab.client() as client:
        client.reset(lab.id)
        assert lab.causes() == ["router_down"]
        # Instance.Status stays "up" through a reset: the peer coming back is the signal
        deadline = time.monotonic() + 5
        while not client.status(lab.id).SiteToSiteIPsecVPNPeers[0].up:
            assert time.monotonic() < deadline, "the tunnel did not come back after reset"
    assert lab.causes() == ["ok"]
    assert lab.call(lambda: [t.seed for t in lab.world.sites["tokyo"].tunnels]) != seeds


def test_status_follows_the_device_side(lab_api: StartLabApi) -> None:
    lab = lab_api(version=2, crypto="v2")
    with lab.client() as client:
        assert client.status(lab.id).SiteToSiteIPsecVPNPeers[0].Status == "UP"
        lab.commit_device("v1")
        status = client.status(lab.id)
        assert status.SiteToSiteIPsecVPNPeers[0].Status == "DOWN"
        assert any(line.endswith("no proposal found") for line in status.VPNLogs)
        lab.commit_device("v2")
        assert client.status(lab.id).SiteToSiteIPsecVPNPeers[0].Status == "UP"


def test_cpu_monitor(lab_api: StartLabApi) -> None:
    lab = lab_api()
    with lab.client() as client:
        series = client.cpu_monitor(lab.id).series()
    assert len(series) == 12 and all(3.3 <= value <= 6.6 for _, value in series)


def test_wrong_secret_says_which_credentials_to_check(lab_api: StartLabApi) -> None:
    lab = lab_api()
    with (
        lab.client(secret="not-the-secret-x1") as client,
        pytest.raises(errors.AuthenticationError) as err,
    ):
        client.read_appliance(lab.id)
    message = str(err.value)
    assert "401" in message and "SAKURACLOUD_ACCESS_TOKEN" in message and "\n" not in message
    assert lab.secret not in message and "not-the-secret-x1" not in message


def test_the_401_body_is_the_real_envelope(lab_api: StartLabApi) -> None:
    lab = lab_api()
    url = f"{lab.server.root_url}tk1v/api/cloud/1.1/appliance/{lab.id}"
    answer = httpx.get(url, auth=(lab.token, "wrong"))
    expected = json.loads((DATA / "error_401_example.json").read_text())
    assert answer.status_code == 401
    assert {**answer.json(), "serial": "abc"} == expected


@pytest.mark.parametrize("zone", ["tk1v", "is1a"])
def test_an_unknown_appliance_or_zone_is_404(lab_api: StartLabApi, zone: str) -> None:
    lab = lab_api()
    appliance_id = 999999999999 if zone == "tk1v" else lab.id
    with lab.client(zone=zone) as client, pytest.raises(errors.NotFoundError) as err:
        client.read_appliance(appliance_id)
    assert "check the appliance ID and zone" in str(err.value)
    assert f"appliance {appliance_id} in {zone}" in str(err.value)


def test_an_appliance_that_is_not_a_vpc_router(lab_api: StartLabApi) -> None:
    lab = lab_api()
    with lab.client() as client, pytest.raises(errors.NotVpcRouterError) as err:
        client.read_appliance(lab.server.other_appliance_id)
    assert "is a loadbalancer, not a VPC router" in str(err.value)


def test_a_503_burst_is_retried(lab_api: StartLabApi) -> None:
    lab = lab_api(unavailable=3)
    with lab.client(retry_max=3) as client:
        assert lab.id == client.read_appliance(lab.id).ID
    assert len(lab.server.requests) == 4


def test_retries_are_bounded(lab_api: StartLabApi) -> None:
    lab = lab_api(unavailable=10)
    with lab.client(retry_max=2) as client, pytest.raises(errors.UnavailableError) as err:
        client.status(lab.id)
    assert len(lab.server.requests) == 3  # the first attempt and exactly two retries
    assert "503" in str(err.value) and "after 3 attempts" in str(err.value)


def test_a_slow_api_times_out_clearly_and_is_not_retried(lab_api: StartLabApi) -> None:
    lab = lab_api(delay=1.0)
    with lab.client(timeout=0.2) as client, pytest.raises(errors.ApiTimeoutError) as err:
        client.read_appliance(lab.id)
    assert "within 0.2s" in str(err.value) and "SAKURACLOUD_API_REQUEST_TIMEOUT" in str(err.value)
    assert len(lab.server.requests) == 1


def test_an_unreachable_api_is_retried_then_reported(lab_api: StartLabApi) -> None:
    lab = lab_api()
    port = closed_port()
    with (
        lab.client(root_url=f"http://127.0.0.1:{port}/", retry_max=2) as client,
        pytest.raises(errors.ApiConnectionError) as err,
    ):
        client.read_appliance(lab.id)
    assert f"cannot reach 127.0.0.1:{port}" in str(err.value)
    assert "after 3 attempts" in str(err.value)


def test_the_client_throttles_itself(lab_api: StartLabApi) -> None:
    lab = lab_api()
    started = time.monotonic()
    with lab.client(rate_limit=50.0) as client:
        for _ in range(14):
            client.read_appliance(lab.id)
    assert time.monotonic() - started >= 0.08  # the burst of 10, then four gaps of 1/50 s


def test_clients_of_one_account_share_the_throttle(lab_api: StartLabApi) -> None:
    """A fleet run opens a client per site on its own thread: together they keep the rate."""
    lab = lab_api()

    def eight_reads() -> None:
        with lab.client(rate_limit=50.0) as client:
            for _ in range(8):
                client.read_appliance(lab.id)

    started = time.monotonic()
    threads = [threading.Thread(target=eight_reads) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= 0.28  # 24 requests: the burst of 10, 14 gaps of 1/50 s


def test_the_environment_overrides_inventory_values(lab_api: StartLabApi, tmp_path: Path) -> None:
    lab = lab_api()
    environ = {
        "SAKURACLOUD_ACCESS_TOKEN": lab.token,
        "SAKURACLOUD_ACCESS_TOKEN_SECRET": lab.secret,
        "SAKURACLOUD_ZONE": "tk1v",
    }
    settings = resolve_api_settings(
        token="inventory-token-q1",
        secret="inventory-secret-q1",
        zone="is1b",
        root_url=lab.server.root_url,
        environ=environ,
        home=tmp_path,
    )
    with SakuraClient(settings) as client:
        assert lab.id == client.read_appliance(lab.id).ID


def test_migration_to_version_2(lab_api: StartLabApi) -> None:
    lab = lab_api(version=1, crypto="v1")
    with lab.client() as client:
        client.migrate_version(lab.id, 2)
        migrating = client.read_appliance(lab.id)
        assert (migrating.Availability, migrating.vpc_router_version) == ("migrating", 2)
        wait_for(client, lab, availability="available")
        appliance = client.read_appliance(lab.id)
        assert (
            appliance.site_to_site is not None and appliance.site_to_site.EncryptionAlgo == "aes256"
        )
        # the v1 device config no longer links (docs/domain.md#incidents-in-the-article)
        assert lab.causes() == ["proposal_mismatch_main_mode"]
        lab.commit_device("v2")
        assert client.status(lab.id).SiteToSiteIPsecVPNPeers[0].up
        with pytest.raises(errors.BadRequestError, match="already version 2"):
            client.migrate_version(lab.id, 2)


def test_a_stuck_migration_recovers_by_the_articles_workaround(lab_api: StartLabApi) -> None:
    lab = lab_api(version=1, crypto="v1", migration_stuck=True)
    with lab.client() as client:
        exported = client.read_appliance(lab.id).Settings
        assert exported is not None
        client.migrate_version(lab.id, 2)
        assert lab.causes() == ["router_down"]
        for read in (client.status, client.vpn_log, client.cpu_monitor):
            with pytest.raises(errors.StillCreatingError, match="still being created or migrated"):
                read(lab.id)
        # a reboot alone does not help
        client.shutdown(lab.id)
        wait_for(client, lab, instance_status="down")
        client.boot(lab.id)
        wait_for(client, lab, instance_status="up")
        assert client.read_appliance(lab.id).Availability == "migrating"
        # power off, re-import the exported settings, power on
        client.shutdown(lab.id)
        wait_for(client, lab, instance_status="down")
        current = client.read_appliance(lab.id).SettingsHash
        client.update_settings(lab.id, exported, current)
        client.apply_config(lab.id)
        client.boot(lab.id)
        wait_for(client, lab, instance_status="up", availability="available")
        assert client.status(lab.id).SiteToSiteIPsecVPNPeers[0].Status == "DOWN"
        lab.commit_device("v2")
        assert client.status(lab.id).SiteToSiteIPsecVPNPeers[0].up


def test_no_credential_or_psk_leaks_into_errors_or_logs(
    lab_api: StartLabApi, caplog: pytest.LogCaptureFixture
) -> None:
    lab = lab_api(unavailable=1)
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    with lab.client() as client:
        appliance = client.read_appliance(lab.id)
        assert appliance.Settings is not None and appliance.site_to_site is not None
        appliance.site_to_site.DHGroup = "modp4096"
        settings = appliance.Settings
        client.update_settings(lab.id, settings, appliance.SettingsHash)
        failing: list[Callable[[], object]] = [
            lambda: client.update_settings(lab.id, settings, appliance.SettingsHash),
            lambda: client.read_appliance(1),
            lambda: client.read_appliance(lab.server.other_appliance_id),
        ]
        for call in failing:
            with pytest.raises(errors.SakuraError) as err:
                call()
            messages.append(str(err.value))
    with (
        lab.client(secret="wrong-" + lab.secret) as client,
        pytest.raises(errors.SakuraError) as err,
    ):
        client.read_appliance(lab.id)
    messages.append(str(err.value))
    output = "\n".join(messages) + "\n" + caplog.text
    assert "retry 1/3" in caplog.text
    for secret in (lab.token, lab.secret, lab.psk):
        assert secret not in output


# --- the command's deadline bounds every attempt and every wait ----------------------


def test_retries_stop_when_the_deadline_leaves_no_time(lab_api: StartLabApi) -> None:
    lab = lab_api(unavailable=100)
    slow_backoff = lab.settings(retry_max=10, retry_wait_min=1.0, retry_wait_max=64.0)
    started = time.monotonic()
    with (
        SakuraClient(slow_backoff, Deadline.after(3.0)) as client,
        pytest.raises(errors.UnavailableError) as err,
    ):
        client.read_appliance(lab.id)
    elapsed = time.monotonic() - started
    assert elapsed < 3.5, f"{elapsed:.1f}s for a 3 s deadline"
    assert "the command's deadline left no time to retry" in str(err.value)
    assert 2 <= len(lab.server.requests) <= 3  # waits of ~1 s then ~2 s fit; ~4 s does not


def test_connection_refused_is_retried_only_briefly(lab_api: StartLabApi) -> None:
    lab = lab_api()
    port = closed_port()
    settings = lab.settings(root_url=f"http://127.0.0.1:{port}/", retry_max=10, retry_wait_min=1.0)
    started = time.monotonic()
    with SakuraClient(settings) as client, pytest.raises(errors.ApiConnectionError) as err:
        client.read_appliance(lab.id)
    assert time.monotonic() - started < 2.5  # two retries, 0.5 s and 1 s apart
    assert "after 3 attempts" in str(err.value) and "Connection refused" in str(err.value)


def test_a_slow_api_is_cut_off_at_the_deadline_not_the_request_timeout(
    lab_api: StartLabApi,
) -> None:
    lab = lab_api(delay=5.0)
    started = time.monotonic()
    with (
        SakuraClient(lab.settings(timeout=30.0), Deadline.after(1.0)) as client,
        pytest.raises(errors.ApiTimeoutError) as err,
    ):
        client.read_appliance(lab.id)
    assert time.monotonic() - started < 1.5
    assert "within the command's 1s deadline (--timeout)" in str(err.value)


def test_no_request_once_the_deadline_has_passed(lab_api: StartLabApi) -> None:
    lab = lab_api()
    with (
        SakuraClient(lab.settings(), Deadline.after(0.0)) as client,
        pytest.raises(DeadlineExceeded) as err,
    ):
        client.read_appliance(lab.id)
    assert len(lab.server.requests) == 0
    assert str(err.value).startswith(f"read appliance {lab.id} in tk1v: ")


def answering(*statuses: tuple[int, dict[str, str]]) -> httpx.MockTransport:
    """An API that answers ``statuses`` in turn (status, headers), then 200 with nothing."""
    answers = iter(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        status, headers = next(answers, (200, {}))
        return httpx.Response(status, headers=headers, json={})

    return httpx.MockTransport(handler)


def test_retry_after_is_respected_within_the_deadline(
    lab_api: StartLabApi, caplog: pytest.LogCaptureFixture
) -> None:
    lab = lab_api()
    settings = lab.settings(retry_wait_min=0.01, retry_wait_max=64.0)
    caplog.set_level(logging.WARNING, logger="fitelctl.sakura")
    with SakuraClient(settings, Deadline.after(10.0)) as client:
        client._http = httpx.Client(  # the same options, over a scripted transport
            **{**client._client_options(), "transport": answering((429, {"Retry-After": "1"}))}
        )
        started = time.monotonic()
        client.apply_config(lab.id)
        assert time.monotonic() - started >= 1.0
    (line,) = caplog.messages
    assert line.startswith("retrying PUT appliance/") and "(429 Too Many Requests)" in line
    assert " in 1.00s: retry 1/3" in line
    for secret in (lab.token, lab.secret):
        assert secret not in line
    with SakuraClient(settings, Deadline.after(2.0)) as client:
        client._http = httpx.Client(
            **{**client._client_options(), "transport": answering((503, {"Retry-After": "5"}))}
        )
        started = time.monotonic()
        with pytest.raises(errors.UnavailableError) as err:
            client.apply_config(lab.id)
        assert time.monotonic() - started < 0.5  # Retry-After: 5 cannot fit in 2 s: no wait
    assert "deadline left no time to retry" in str(err.value)
