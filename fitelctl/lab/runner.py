"""``fitelctl lab up``: build a scenario, serve it on 127.0.0.1, describe it on disk.

The state directory keeps what must survive a restart (host keys, the lab's
credentials and PSKs) so that known_hosts stays valid; the scenario's configs
are rebuilt on every start.  ``ready`` is written last and removed on stop, so a
client that sees it can connect.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from fitelctl.errors import FitelctlError
from fitelctl.lab.api_server import ApiServer, start_api_server
from fitelctl.lab.device.editing import ConfigTextError, replay_config
from fitelctl.lab.device.model import DeviceFaults, DeviceSpec, LabDevice
from fitelctl.lab.faults import Faults, parse_faults
from fitelctl.lab.scenarios import (
    CLOUD_LOCAL_PREFIX,
    SCENARIOS,
    VPC_ROUTER_ADDRESS,
    SiteAddresses,
    device_config,
    scenario,
    site_addresses,
)
from fitelctl.lab.ssh_server import DeviceServer, load_or_create_host_key, start_device_server
from fitelctl.lab.world import LabWorld, PeerEntry, VpcRouter

LAB_HOST = "127.0.0.1"
LAB_USERNAME = "admin"
LAB_ZONE = "tk1v"


class LabError(FitelctlError):
    pass


@dataclass(frozen=True)
class LabOptions:
    state_dir: Path
    scenario: str = "seed-v1"
    sites: int = 1
    faults: tuple[str, ...] = ()
    #: devices on newer firmware print the IKE_SA/CHILD_SA format of `show crypto sa`
    sa_format: Literal["ipsec", "ike_child"] = "ipsec"
    #: ``SITE=FILE``: that site's device starts from the running config in FILE
    #: (working = current = boot) instead of the scenario's
    device_configs: tuple[str, ...] = ()


@dataclass
class LabSite:
    addresses: SiteAddresses
    device: LabDevice
    server: DeviceServer
    password: str
    enable_password: str


@dataclass
class Lab:
    """A running lab; ``start`` and ``stop`` run on its event loop."""

    options: LabOptions
    world: LabWorld = field(default_factory=LabWorld)
    sites: dict[str, LabSite] = field(default_factory=dict)
    api: ApiServer | None = None

    async def start(self) -> None:
        options = self.options
        if options.scenario not in SCENARIOS:
            raise LabError(f"unknown scenario '{options.scenario}' (known: {', '.join(SCENARIOS)})")
        if not 1 <= options.sites <= 1000:
            raise LabError(f"--sites {options.sites}: expected 1 to 1000")
        if options.sa_format not in ("ipsec", "ike_child"):
            raise LabError(f"unknown show crypto sa format '{options.sa_format}'")
        faults = parse_faults(options.faults)
        configs = load_device_configs(
            options.device_configs, [site_addresses(i).site for i in range(options.sites)]
        )
        state = options.state_dir
        (state / "ready").unlink(missing_ok=True)
        for sub in ("hostkeys", "secrets"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        client_key = _client_key(state)
        chosen = scenario(options.scenario)
        router = VpcRouter(
            global_address=VPC_ROUTER_ADDRESS,
            version=chosen.router_version,
            encryption_algo=chosen.encryption_algo,
            hash_algo=chosen.hash_algo,
            dh_group=chosen.dh_group,
        )
        self.world.add_router(router)
        for index in range(options.sites):
            addresses = site_addresses(index)
            psk = _persistent_secret(state, f"{addresses.site}.psk")
            cloud_psk = psk if not faults.wrong_psk else psk + "-cloud"
            router.peers.append(PeerEntry(addresses.public, addresses.wan, cloud_psk))
            config = configs.get(addresses.site)
            if config is None:
                config = device_config(addresses, chosen.device_crypto, psk)
            await self._add_site(addresses, config, faults, client_key)
        self.api = await start_api_server(
            self.world,
            token=_persistent_secret(state, "api.token"),
            secret=_persistent_secret(state, "api.secret"),
            zone=LAB_ZONE,
            unavailable=faults.api_503,
            delay=faults.api_slow,
            migration_stuck=options.scenario == "migration-stuck",
            api_quirks=faults.api_quirks,
            host=LAB_HOST,
        )
        self._write_descriptions()

    async def _add_site(
        self,
        addresses: SiteAddresses,
        boot_config: str,
        faults: Faults,
        client_key: str,
    ) -> None:
        state = self.options.state_dir
        password = _persistent_secret(state, f"{addresses.site}.password")
        enable = _persistent_secret(state, f"{addresses.site}.enable")
        spec = DeviceSpec(
            site=addresses.site,
            hostname=addresses.hostname,
            username=LAB_USERNAME,
            password=password,
            enable_password=enable,
            authorized_keys=(client_key,),
            sa_format=self.options.sa_format,
            boot_config=boot_config,
        )
        device = LabDevice(
            spec,
            DeviceFaults(commit_fails=faults.commit_fails, drop_after_lines=faults.ssh_drop_after),
        )
        self.world.add_site(device, public_address=addresses.public)
        host_key = load_or_create_host_key(state / "hostkeys" / f"{addresses.site}_ed25519")
        server = await start_device_server(device, host_key=host_key, host=LAB_HOST, port=0)
        self.sites[addresses.site] = LabSite(addresses, device, server, password, enable)

    def _write_descriptions(self) -> None:
        state = self.options.state_dir
        _write(
            state / "known_hosts",
            "".join(
                f"[{LAB_HOST}]:{s.server.port} {s.server.host_key_line}\n"
                for s in self.sites.values()
            ),
        )
        _write(state / "inventory.yaml", self._inventory_yaml())
        _write(state / "lab.json", json.dumps(self._lab_json(), indent=2) + "\n")
        _write(state / "ready", f"{os.getpid()}\n")

    def _inventory_yaml(self) -> str:
        """The scenario's intended state, so that ``apply`` brings each device to it."""
        chosen = scenario(self.options.scenario)
        assert self.api is not None
        cloud: dict[str, Any] = {
            "version": chosen.router_version,
            "global_address": VPC_ROUTER_ADDRESS,
            "vpc_router_id": self.api.appliance_id,
            "zone": LAB_ZONE,
        }
        if chosen.router_version == 2:
            cloud.update(
                encryption_algo=chosen.encryption_algo,
                hash_algo=chosen.hash_algo,
                dh_group=chosen.dh_group,
            )
        sites: dict[str, Any] = {}
        for name, site in self.sites.items():
            tunnel: dict[str, Any] = {
                "name": site.addresses.map_name,
                "interface": 1,
                "wan_address": site.addresses.wan,
                "public_address": site.addresses.public,
                "routes": [CLOUD_LOCAL_PREFIX],
                "preset": f"sakura-{chosen.intended}",
                "psk": f"file:secrets/{name}.psk",
            }
            if chosen.intended == "v2":
                tunnel["crypto"] = {"ipsec_lifetime": 180}
            sites[name] = {
                "device": {
                    "host": LAB_HOST,
                    "port": site.server.port,
                    "username": LAB_USERNAME,
                    "password": f"file:secrets/{name}.password",
                    "enable_password": f"file:secrets/{name}.enable",
                },
                "tunnel": tunnel,
                "cloud": cloud,
            }
        header = (
            f"# fitelctl lab inventory (scenario {self.options.scenario}); written by "
            "`fitelctl lab up`.\n# It describes the scenario's intended state. Secrets are "
            "file references relative to this file.\n"
        )
        body = yaml.safe_dump(
            {
                "version": 1,
                "defaults": {"known_hosts": "known_hosts"},
                "api": {
                    "root_url": self.api.root_url,
                    "zone": LAB_ZONE,
                    "token": "file:secrets/api.token",
                    "secret": "file:secrets/api.secret",
                },
                "sites": sites,
            },
            sort_keys=False,
        )
        return header + body

    def _lab_json(self) -> dict[str, Any]:
        return {
            "scenario": self.options.scenario,
            "devices": [
                {
                    "site": name,
                    "host": LAB_HOST,
                    "port": site.server.port,
                    "username": LAB_USERNAME,
                    "password": site.password,
                    "enable_password": site.enable_password,
                    "private_key": str(self.options.state_dir / "client_ed25519"),
                }
                for name, site in self.sites.items()
            ],
            "api": self._api_json(),
            "cloud_local_prefix": CLOUD_LOCAL_PREFIX,
        }

    def _api_json(self) -> dict[str, Any]:
        assert self.api is not None
        state = self.options.state_dir
        return {
            "root_url": self.api.root_url,
            "zone": LAB_ZONE,
            "token": _persistent_secret(state, "api.token"),
            "secret": _persistent_secret(state, "api.secret"),
            "vpc_router_id": self.api.appliance_id,
        }

    async def stop(self) -> None:
        (self.options.state_dir / "ready").unlink(missing_ok=True)
        closing = [site.server.close() for site in self.sites.values()]
        if self.api is not None:
            closing.append(self.api.close())
        await asyncio.gather(*closing)


def load_device_configs(specs: tuple[str, ...], sites: list[str]) -> dict[str, str]:
    """``SITE=FILE`` options → site → config text, every line checked by the lab device.

    Raises ``LabError`` (one line naming the option, or FILE:LINE) before anything starts.
    """
    configs: dict[str, str] = {}
    for spec in specs:
        site, equals, name = spec.partition("=")
        if not (site and equals and name):
            raise LabError(f"--device-config '{spec}': expected SITE=FILE")
        if site not in sites:
            known = ", ".join(sites[:3]) + (f" … {sites[-1]}" if len(sites) > 3 else "")
            raise LabError(f"--device-config {spec}: unknown site '{site}' (this lab has {known})")
        if site in configs:
            raise LabError(f"--device-config {spec}: site '{site}' is given twice")
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise LabError(f"--device-config {spec}: cannot read {name}: {reason}") from None
        try:
            replay_config(text)
        except ConfigTextError as err:
            raise LabError(
                f"{name}:{err.line}: the lab device rejects this line: {err.problem} "
                f"(--device-config for site '{site}')"
            ) from None
        configs[site] = text
    return configs


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _persistent_secret(state: Path, name: str) -> str:
    """A random secret kept in ``state/secrets`` (mode 0600) across restarts."""
    path = state / "secrets" / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(15)
    path.touch(mode=0o600)
    path.write_text(value + "\n", encoding="utf-8")
    return value


def _client_key(state: Path) -> str:
    """An ed25519 key the lab's devices accept for public-key login; returns the public line."""
    import asyncssh

    private = state / "client_ed25519"
    if not private.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="fitelctl-lab")
        key.write_private_key(str(private))
        key.write_public_key(str(private) + ".pub")
        private.chmod(0o600)
    return (state / "client_ed25519.pub").read_text(encoding="utf-8").strip()


def run_foreground(options: LabOptions, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM, then stop cleanly."""
    import signal

    async def main() -> None:
        lab = Lab(options)
        await lab.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        announce(
            f"lab ready: scenario {options.scenario}, {len(lab.sites)} site(s), "
            f"inventory {options.state_dir / 'inventory.yaml'}"
        )
        try:
            await stop.wait()
        finally:
            await lab.stop()

    asyncio.run(main())


class BackgroundLab:
    """A lab on its own event loop in a thread: for tests and ``fitelctl demo``."""

    def __init__(self, options: LabOptions) -> None:
        self.lab = Lab(options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Lab:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.lab.start(), self._loop).result(timeout=120)
        except BaseException:
            self._shutdown()
            raise
        return self.lab

    def __exit__(self, *exc: object) -> None:
        self._shutdown()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the lab's loop (the lab's state belongs to that thread)."""

        async def wrapper() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout=30)

    def _shutdown(self) -> None:
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self.lab.stop(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
