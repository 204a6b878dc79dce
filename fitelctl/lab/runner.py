"""``fitelctl lab up``: build a scenario, serve it on 127.0.0.1, describe it on disk.

The state directory keeps what must survive a restart (host keys, the lab's
credentials and PSKs) so that known_hosts stays valid.  ``ready`` is written last
and removed on stop, so a client that sees it can connect.

It also keeps the lab's state (``DIR/lab-state/``), so that a lab killed at any
moment (SIGKILL included) and started again with the same ``--state-dir`` is a
power cycle of its devices, not a new lab: each device's drive (``boot.cfg`` and
any other saved file, and which file boots) is written whenever a ``save`` or
``boot configuration`` changes it, and the device comes back running its boot
config (working = current = boot; unsaved edits are lost, as on a real F220).
The VPC router is a cloud service, which does not die with the lab: its settings,
the settings it runs, its version, power state and migration state are written
after every API call that may change them and after each transition; a transition
under way when the lab died has ended when it comes back.  The SSH and API ports
are kept too (``ports.json``), so the inventory a client holds stays valid; when
a port has been taken meanwhile a free one is used and the inventory rewritten.
Every file is written whole to a temporary name and renamed, so a kill never
leaves a torn one.  Started with another ``--scenario``, ``--sites``,
``--device-config`` or ``wrong-psk`` fault, the lab starts afresh.

The ``kill-after`` faults SIGKILL the lab's own process, so only ``fitelctl lab up``
(``run_foreground``) takes them.

``DIR/calls.log`` lists every API call (``N METHOD /path [fault]``, N counted
from 1 per start, a ``# lab started`` line at each start).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from fitelctl.errors import FitelctlError
from fitelctl.lab.api_http import CallFault
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
from fitelctl.lab.vpc_router import LabVpcRouter
from fitelctl.lab.world import LabWorld, PeerEntry, VpcRouter
from fitelctl.private_files import write_private_file

if TYPE_CHECKING:  # real IKE is imported only when asked for (root, strongSwan)
    from fitelctl.lab.strongswan.charon import Timing
    from fitelctl.lab.strongswan.lab_world import StrongswanWorld

LAB_HOST = "127.0.0.1"
LAB_USERNAME = "admin"
LAB_ZONE = "tk1v"
#: libyaml's safe dumper when PyYAML has it: the inventory is written at every lab start
#: (a power cycle too), and the pure-Python dumper took about a quarter of a 5-site start;
#: the text is the same
_YAML_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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
    #: who negotiates the tunnels: the model (``fitelctl.ike``) or real charons
    ike: Literal["model", "strongswan"] = "model"
    #: charon's retransmission timing in ``strongswan`` mode (None: charon's defaults)
    ike_timing: Timing | None = None


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
    saved: SavedState = field(init=False)
    #: the lab has a process of its own (``lab up``), which the kill-after faults end
    own_process: bool = False

    async def start(self) -> None:
        options = self.options
        if options.scenario not in SCENARIOS:
            raise LabError(f"unknown scenario '{options.scenario}' (known: {', '.join(SCENARIOS)})")
        if not 1 <= options.sites <= 1000:
            raise LabError(f"--sites {options.sites}: expected 1 to 1000")
        if options.sa_format not in ("ipsec", "ike_child"):
            raise LabError(f"unknown show crypto sa format '{options.sa_format}'")
        faults = parse_faults(options.faults)
        if faults.need_strongswan and options.ike != "strongswan":
            raise LabError(
                "--fault drop-ike, esp-noise and router-restart need real IKE (--ike strongswan)"
            )
        if options.ike == "strongswan":
            self.world = _strongswan_world(options, faults)
        names = [site_addresses(i).site for i in range(options.sites)]
        unknown = sorted(faults.sites() - set(names))
        if unknown:
            raise LabError(f"--fault: unknown site '{unknown[0]}' (this lab has {names[0]}…)")
        if faults.kill and not self.own_process:
            raise LabError("--fault kill-after: only a lab in a process of its own (lab up)")
        configs = load_device_configs(options.device_configs, names)
        state = options.state_dir
        (state / "ready").unlink(missing_ok=True)
        for sub in ("hostkeys", "secrets", "lab-state/devices"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        self.saved = SavedState.load(state / "lab-state", self._identity(faults))
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
        with (state / "calls.log").open("a", encoding="utf-8") as log:
            log.write(f"# lab started, pid {os.getpid()}\n")
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
            port=self.saved.port("api"),
            fail_at=_call_faults(faults),
            call_log=state / "calls.log",
            router_state=self.saved.router,
            persist=self.saved.save_router,
            router_class=_router_class(options),
        )
        self._restart_router_later(faults)
        if faults.api_kill_after is not None:
            self.api.die_after(faults.api_kill_after, _die)
        self.saved.save_ports(self.api.port, {n: s.server.port for n, s in self.sites.items()})
        self._write_descriptions()

    def _identity(self, faults: Faults) -> dict[str, Any]:
        """What the saved state depends on: started otherwise, the lab starts afresh."""
        options = self.options
        return {
            "scenario": options.scenario,
            "sites": options.sites,
            "device_configs": list(options.device_configs),
            "wrong_psk": faults.wrong_psk,
        }

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
        drive = self.saved.drive(addresses.site)
        if drive is not None:  # a power cycle: it boots what was saved
            spec = replace(spec, boot_config=drive["files"][drive["boot_file"]])
        fault = faults.for_device(addresses.site)
        device = LabDevice(
            spec,
            DeviceFaults(
                commit_fails=fault.commit_fails,
                drop_after_lines=fault.ssh_drop_after,
                drop_session=fault.ssh_drop_session,
                kill_after=fault.kill_after,
                max_sessions=fault.max_sessions,
            ),
            die=_die if fault.kill_after else None,
        )
        if drive is not None:
            device.files, device.boot_file = dict(drive["files"]), drive["boot_file"]
        device.on_boot_change = self.saved.save_drive
        device.boot_changed()
        self.world.add_site(device, public_address=addresses.public)
        host_key = load_or_create_host_key(state / "hostkeys" / f"{addresses.site}_ed25519")
        server = await _serve_device(device, host_key, self.saved.port(addresses.site))
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
        body = yaml.dump(
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
            Dumper=_YAML_DUMPER,
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

    def _restart_router_later(self, faults: Faults) -> None:
        if self.options.ike != "strongswan":
            return
        from fitelctl.lab.strongswan.lab_router import LabCharonRouter

        router = self.api.router if self.api is not None else None
        assert isinstance(router, LabCharonRouter)
        if faults.router_restart is not None:
            asyncio.get_running_loop().call_later(faults.router_restart, router.restart_charon)

    async def stop(self) -> None:
        (self.options.state_dir / "ready").unlink(missing_ok=True)
        closing = [site.server.close() for site in self.sites.values()]
        if self.api is not None:
            closing.append(self.api.close())
        await asyncio.gather(*closing)
        self.world.close()


def _strongswan_world(options: LabOptions, faults: Faults) -> StrongswanWorld:
    """Real charons: the machine is checked first, and a dead lab's namespaces go."""
    from fitelctl.lab.strongswan.lab_network import MAX_OFFICES
    from fitelctl.lab.strongswan.lab_world import StrongswanWorld
    from fitelctl.lab.strongswan.netns import NetnsError, remove_leftovers
    from fitelctl.lab.strongswan.prerequisites import APT_INSTALL, missing

    lacking = missing()
    if lacking:
        suffix = f": {APT_INSTALL}"
        what = [f"  {line.removesuffix(suffix)}" for line in lacking]
        if any(line.endswith(suffix) for line in lacking):
            what.append(f"install them with: {APT_INSTALL}")
        raise LabError("--ike strongswan: this machine lacks:\n" + "\n".join(what))
    if options.sites > MAX_OFFICES:
        raise LabError(f"--ike strongswan: at most {MAX_OFFICES} sites (got {options.sites})")
    try:
        for name in remove_leftovers():
            print(f"removed namespace {name} of a lab that died", file=sys.stderr)
        sites = [faults.for_device(site_addresses(i).site) for i in range(options.sites)]
        world = StrongswanWorld(
            options.state_dir / "strongswan",
            timing=options.ike_timing,
            label=_next_label(),
            drop_ike=frozenset(f.site for f in sites if f.drop_ike and f.site),
            esp_noise=frozenset(f.site for f in sites if f.esp_noise and f.site),
        )
    except NetnsError as error:
        raise LabError(f"--ike strongswan: {error}") from None
    return world


_labels = itertools.count(1)


def _next_label() -> str:
    """Namespace labels unique in this process (tests run several labs in one)."""
    return f"lab{next(_labels)}"


def _router_class(options: LabOptions) -> Callable[..., LabVpcRouter]:
    if options.ike != "strongswan":
        return LabVpcRouter
    from fitelctl.lab.strongswan.lab_router import LabCharonRouter

    return LabCharonRouter


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


class SavedState:
    """The lab's persisted state in ``DIR/lab-state`` (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.router: dict[str, Any] | None = None
        self._ports: dict[str, int] = {}

    @classmethod
    def load(cls, directory: Path, identity: dict[str, Any]) -> SavedState:
        saved = cls(directory)
        if _read_json(directory / "identity.json") != identity:
            for old in [*directory.glob("*.json"), *directory.glob("devices/*.json")]:
                old.unlink()
            _write(directory / "identity.json", json.dumps(identity) + "\n", private=True)
            return saved
        saved.router = _read_json(directory / "router.json")
        ports = _read_json(directory / "ports.json") or {}
        saved._ports = {"api": ports.get("api", 0), **ports.get("devices", {})}
        return saved

    def port(self, name: str) -> int:
        """The port ``name`` (``api`` or a site) had before; 0 when it had none."""
        return int(self._ports.get(name, 0))

    def drive(self, site: str) -> dict[str, Any] | None:
        drive: dict[str, Any] | None = _read_json(self.directory / "devices" / f"{site}.json")
        return drive

    def save_drive(self, device: LabDevice) -> None:
        text = json.dumps({"boot_file": device.boot_file, "files": device.files}, indent=1)
        _write(self.directory / "devices" / f"{device.spec.site}.json", text + "\n", private=True)

    def save_router(self, state: dict[str, Any]) -> None:
        _write(self.directory / "router.json", json.dumps(state, indent=1) + "\n", private=True)

    def save_ports(self, api: int, devices: dict[str, int]) -> None:
        text = json.dumps({"api": api, "devices": devices}) + "\n"
        _write(self.directory / "ports.json", text, private=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


async def _serve_device(device: LabDevice, host_key: Any, port: int) -> DeviceServer:
    """On ``port`` when it is still free (a restarted lab keeps its ports), else any."""
    if port:
        try:
            return await start_device_server(device, host_key=host_key, host=LAB_HOST, port=port)
        except OSError:
            pass
    return await start_device_server(device, host_key=host_key, host=LAB_HOST, port=0)


def _die() -> None:
    """The kill-after faults: end this process at once, as a crash or a power cut does."""
    os.kill(os.getpid(), signal.SIGKILL)


def _call_faults(faults: Faults) -> dict[int, CallFault]:
    chosen: dict[int, CallFault] = {}
    for index, fault in (
        (faults.api_503_at, "503"),
        (faults.api_reset_at, "reset"),
        (faults.api_timeout_at, "timeout"),
    ):
        if index is not None:
            chosen[index] = fault  # type: ignore[assignment]
    return chosen


def _write(path: Path, text: str, *, private: bool = False) -> None:
    """Whole or not at all: a temporary file renamed over ``path``.  Not synced: a lab
    "power cycle" is its process killed, which loses nothing the kernel was given."""
    if private:
        write_private_file(path, text, guard=False, durable=False)
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _persistent_secret(state: Path, name: str) -> str:
    """A random secret kept in ``state/secrets`` (mode 0600) across restarts."""
    path = state / "secrets" / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(15)
    write_private_file(path, value + "\n", guard=False)
    return value


def _client_key(state: Path) -> str:
    """An ed25519 key the lab's devices accept for public-key login; returns the public line."""
    import asyncssh

    private = state / "client_ed25519"
    if not private.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="fitelctl-lab")
        write_private_file(private, key.export_private_key().decode("ascii"), guard=False)
        key.write_public_key(str(private) + ".pub")
    return (state / "client_ed25519.pub").read_text(encoding="utf-8").strip()


def run_foreground(options: LabOptions, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM, then stop cleanly."""

    async def main() -> None:
        lab = Lab(options, own_process=True)
        try:
            await lab.start()
        except BaseException:
            await lab.stop()  # nothing half-made stays (real IKE: namespaces, charons)
            raise
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        announce(
            f"lab ready: scenario {options.scenario}, {len(lab.sites)} site(s), "
            + ("IKE by strongSwan, " if options.ike == "strongswan" else "")
            + f"inventory {options.state_dir / 'inventory.yaml'}"
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
