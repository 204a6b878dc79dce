"""``diagnose SITE``: why a site's tunnel is down, read live from both routers.

Evidence is taken in the order that settles the most first:

1. the VPC router over the API: powered off, shutting down or stuck migrating
   means ``router_down``, whatever else is true;
2. the F220's ``show crypto sa``: an SA with the router on the tunnel
   interface means ``ok`` (the router's own peer status stands in when the
   F220 cannot be reached);
3. the router's VPN log (``fitelctl.vpn_log``): what the latest negotiation
   actually ran into;
4. the settings actually in force on both sides (the router's
   SiteToSiteIPsecVPN from the API, the F220's ``show current.cfg``, or the
   inventory when the F220 cannot be reached) run through
   ``ike.negotiate``: the cause when the log is silent or ambiguous, and
   the detail (which parameter, which line) whenever it agrees with the log.

Pre-shared keys are compared, never shown: the detail says which ones differ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from fitelctl.errors import FitelctlError
from fitelctl.fitelnet.algorithms import HASH_BY_ESP
from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import BrokenTunnel, DeviceTunnel, read_tunnels
from fitelctl.ike import (
    CLOUD_AES_BITS,
    CLOUD_DH_GROUP,
    CLOUD_HASH_TO_DEVICE,
    AcceptedSet,
    CloudPeer,
    accepted_set,
    negotiate,
)
from fitelctl.inventory import Inventory, Site, resolve_secret
from fitelctl.inventory.fitelnet_config import render_tunnel
from fitelctl.ops.cloud import (
    CloudView,
    client_for,
    lifetime_notes,
    lifetimes,
    read_connection_details,
)
from fitelctl.ops.connect import ConnectOptions, connect_site
from fitelctl.parsing import IpsecSa, parse_crypto_sa
from fitelctl.redact import SECRETS
from fitelctl.sakura.client import SakuraClient
from fitelctl.sakura.models import Appliance, ConnectionDetails, SiteToSiteVpn
from fitelctl.vpn_log import (
    IKEV2_DETAIL,
    PHASE_NAMES,
    Diagnosis,
    Offer,
    Phase,
    diagnose_log,
    no_peer_entry_detail,
    proposal_advice,
    rate_limit_note,
)

#: causes read from the log that name a definite failure
_FAILURES = frozenset(
    {"proposal_mismatch_main_mode", "proposal_mismatch_quick_mode", "psk_mismatch", "id_mismatch"}
)


class CloudUnreadable(FitelctlError):
    """The VPC router could not be read over the API: nothing can be concluded."""

    exit_code = 3


def diagnose_site(
    inventory: Inventory, site: str, options: ConnectOptions | None = None
) -> Diagnosis:
    """One verdict for ``site``; ``CloudUnreadable`` when the API cannot be read.

    Lifetimes that look wrong in the router's answers (``ops.cloud.lifetime_notes``)
    and connection details that could not be read are added to the evidence.
    Secrets are masked in the detail and the evidence.
    """
    config = inventory.site(site)
    cloud = _read_cloud(inventory, site, config.tunnel.outside_address)
    verdict = _verdict(inventory, site, config, cloud, options or ConnectOptions())
    return _masked(dataclasses.replace(verdict, evidence=[*verdict.evidence, *cloud.notes]))


def diagnose_saved_log(text: str, *, peer: str | None = None) -> Diagnosis:
    """The verdict of a saved VPC router VPN log (``peer``: the office's address), masked."""
    return _masked(diagnose_log(text, peer=peer))


def _masked(verdict: Diagnosis) -> Diagnosis:
    return dataclasses.replace(
        verdict,
        detail=SECRETS.redact(verdict.detail),
        evidence=[SECRETS.redact(line) for line in verdict.evidence],
    )


def _verdict(
    inventory: Inventory, site: str, config: Site, cloud: _Cloud, options: ConnectOptions
) -> Diagnosis:
    down = _router_down(cloud.view)
    if down is not None:
        return down
    device = _read_device(inventory, site, config, options)
    up = _tunnel_up(cloud, device)
    if up is not None:
        return up
    vpn = cloud.appliance.site_to_site
    if vpn is not None and vpn.Enabled is False:
        return Diagnosis(
            "no_response",
            "the VPC router's site-to-site VPN is disabled (SiteToSiteIPsecVPN.Enabled False): "
            "enable it and apply the router's configuration",
        )
    sides = _sides(inventory, site, config, cloud.appliance, device)
    peer = _cloud_peer(cloud.appliance, config)
    log = diagnose_log("\n".join(cloud.log), peer=sides.outside)
    model = _model(sides, peer) if peer is not None else None
    verdict = _combine(log, model)
    if device.problem is None:
        return verdict
    note = f"the F220 could not be read ({device.problem}); its settings are the inventory's"
    return dataclasses.replace(verdict, evidence=[*verdict.evidence, note])


# --- reading both sides --------------------------------------------------------------------


@dataclass(frozen=True)
class _Cloud:
    appliance: Appliance
    #: the router and this site's peer entry (no entry when the router is not running)
    view: CloudView
    log: list[str]
    #: lifetimes that look wrong, or why the connection details could not be read
    notes: list[str] = dataclasses.field(default_factory=list)


def _read_cloud(inventory: Inventory, site: str, outside: str) -> _Cloud:
    config = inventory.site(site)
    peer = config.tunnel.cloud_peer_address(config.cloud)
    try:
        client, appliance_id = client_for(inventory, site)
        with client:
            appliance = client.read_appliance(appliance_id)
            view = CloudView.of(appliance, peer=peer)
            if not view.is_running:
                return _Cloud(appliance, view, [], view.notes)
            view = CloudView.of(appliance, peer=peer, status=client.status(appliance_id))
            log = client.vpn_log(appliance_id).lines
            details, problem = _connection_details(client, appliance_id)
    except FitelctlError as err:
        raise CloudUnreadable(SECRETS.redact(f"cannot read the VPC router: {err}")) from None
    notes = lifetime_notes(lifetimes(appliance, details, outside))
    return _Cloud(appliance, view, log, [*notes, *problem])


def _connection_details(
    client: SakuraClient, appliance_id: int
) -> tuple[ConnectionDetails | None, list[str]]:
    """The connection details, or why not: they only add notes, so they never stop diagnose."""
    try:
        return read_connection_details(client, appliance_id), []
    except FitelctlError as err:
        return None, [f"note: {err}"]


def _router_down(router: CloudView) -> Diagnosis | None:
    if router.is_running:
        return None
    instance, availability = router.instance_status, router.availability
    evidence = [
        f"VPC router {router.appliance_id}: Instance.Status {instance}, Availability {availability}"
    ]
    if router.is_migrating:
        detail = (
            "the VPC router is migrating and serves no VPN meanwhile; if it stays so (the "
            "article's stuck migration): power it off, import the settings exported before "
            "the migration, apply them, then power it on"
        )
    elif router.is_shutting_down:
        detail = "the VPC router is shutting down: wait until it is off, then boot it"
    elif router.is_off:
        detail = "the VPC router is powered off: boot it (control panel, or the API's power on)"
    else:
        detail = (
            f"the VPC router is not running and available ({instance} / {availability}): "
            "see the control panel"
        )
    return Diagnosis("router_down", detail, evidence)


@dataclass(frozen=True)
class _Device:
    """What the F220 showed: its SA with the router, its tunnel settings, or why not."""

    sa: IpsecSa | None = None
    #: the tunnel on the inventory's interface, or why there is none
    tunnel: DeviceTunnel | str | None = None
    #: why the F220 could not be read (then ``tunnel`` is None)
    problem: str | None = None


def _read_device(inventory: Inventory, site: str, config: Site, options: ConnectOptions) -> _Device:
    try:
        with connect_site(inventory, site, options) as device:
            sas = parse_crypto_sa(device.show("show crypto sa"))
            current = ConfigTree.parse(device.show("show current.cfg"))
    except FitelctlError as err:
        return _Device(problem=str(err))
    except Exception as err:  # a library failure: diagnose from the other side
        return _Device(problem=f"{site}: unexpected {type(err).__name__}: {err}")
    label, router = config.tunnel.label, config.cloud.global_address
    sa = next((s for s in sas.ipsec_sas if s.interface == label and s.peer_ip == router), None)
    return _Device(sa=sa, tunnel=_device_tunnel(current, label))


def _device_tunnel(current: ConfigTree, label: str) -> DeviceTunnel | str:
    found = next((t for t in read_tunnels(current) if t.interface == label), None)
    if found is None:
        return (
            f"the F220 has no IPsec tunnel on {label} (no `interface {label.title()}` with "
            "`tunnel mode ipsec map`), so it never contacts the router"
        )
    if isinstance(found, BrokenTunnel):
        return f"the F220's IPsec config for {label} is incomplete ({found.reason})"
    SECRETS.add(found.psk)
    return found


def _tunnel_up(cloud: _Cloud, device: _Device) -> Diagnosis | None:
    if device.sa is not None:
        sa = device.sa
        pfs = f"PFS group {sa.pfs_group}" if sa.pfs else "no PFS"
        return Diagnosis(
            "ok",
            f"the tunnel is up: {sa.encryption}, {sa.authentication}, {pfs}, "
            f"{sa.lifetime_remaining}/{sa.lifetime_total} s left on the IPsec SA",
            [
                f"show crypto sa: {sa.interface} to {sa.peer_ip}, "
                f"SPI in {sa.in_spi} out {sa.out_spi}"
            ],
        )
    if device.problem and cloud.view.peer_up:
        return Diagnosis(
            "ok",
            f"the VPC router reports peer {cloud.view.peer} UP (the F220 could not be read)",
            [device.problem],
        )
    return None


# --- both sides' settings ------------------------------------------------------------------


@dataclass(frozen=True)
class _Sides:
    site: str
    outside: str  # the F220's address as the router sees it
    router_peers: list[str]
    #: the F220's tunnel as it runs (or as the inventory has it), or why there is none
    tunnel: DeviceTunnel | str
    planned: DeviceTunnel  # the inventory's tunnel
    device_read: bool


def _sides(
    inventory: Inventory, site: str, config: Site, appliance: Appliance, device: _Device
) -> _Sides:
    psk = resolve_secret(config.tunnel.psk, inventory, what=f"sites.{site}.tunnel.psk")
    rendered = read_tunnels(render_tunnel(config.tunnel, config.cloud, psk))
    planned = next(t for t in rendered if isinstance(t, DeviceTunnel))
    vpn = appliance.site_to_site or SiteToSiteVpn()
    return _Sides(
        site=site,
        outside=config.tunnel.outside_address,
        router_peers=[p.Peer for p in vpn.peers],
        tunnel=device.tunnel if device.tunnel is not None else planned,
        planned=planned,
        device_read=device.problem is None,
    )


def _cloud_peer(appliance: Appliance, config: Site) -> CloudPeer | None:
    """The router's entry for the F220's address; None when its settings are not ones modelled."""
    vpn, cloud = appliance.site_to_site or SiteToSiteVpn(), config.cloud
    outside = config.tunnel.outside_address
    entry = next((p for p in vpn.peers if p.Peer == outside), None)
    version = appliance.vpc_router_version or cloud.version
    encryption = vpn.EncryptionAlgo or cloud.encryption_algo
    hash_algo = vpn.HashAlgo or cloud.hash_algo
    dh_group = vpn.DHGroup or cloud.dh_group
    modelled = (
        encryption in CLOUD_AES_BITS
        and hash_algo in CLOUD_HASH_TO_DEVICE
        and dh_group in CLOUD_DH_GROUP
    )
    if version >= 2 and not modelled:
        return None
    return CloudPeer(
        router_version=version,
        router_up=True,
        global_address=_router_address(appliance) or cloud.global_address,
        peer=entry.Peer if entry else "",
        remote_id=entry.RemoteID if entry else "",
        psk=entry.PreSharedSecret.get_secret_value() if entry else "",
        encryption_algo=encryption,
        hash_algo=hash_algo,
        dh_group=dh_group,
        ike_lifetime=(vpn.IKE.Lifetime if vpn.IKE else None) or cloud.ike_lifetime,
        esp_lifetime=(vpn.ESP.Lifetime if vpn.ESP else None) or cloud.esp_lifetime,
    )


def _router_address(appliance: Appliance) -> str | None:
    servers = appliance.Remark.Servers if appliance.Remark else []
    if servers and servers[0].IPAddress:
        return servers[0].IPAddress
    first = appliance.Interfaces[0] if appliance.Interfaces else None
    return first.IPAddress if first else None


# --- the verdict -----------------------------------------------------------------------------


def _combine(log: Diagnosis, model: Diagnosis | None) -> Diagnosis:
    """The log says what happened; the settings say why, and decide when the log cannot."""
    verdict = _combined(log, model)
    note = rate_limit_note(log.evidence) if log.rate_limited else None
    if note and note not in verdict.detail:
        verdict = dataclasses.replace(verdict, detail=f"{verdict.detail}; {note}")
    return dataclasses.replace(verdict, rate_limited=log.rate_limited)


def _combined(log: Diagnosis, model: Diagnosis | None) -> Diagnosis:
    if log.cause in _FAILURES:
        if model is None or model.cause == log.cause:
            return Diagnosis(log.cause, model.detail if model else log.detail, log.evidence)
        now = model.detail if model.cause == "ok" else f"with the settings now: {model.detail}"
        return Diagnosis(log.cause, f"{log.detail}; {now}", log.evidence)
    if model is not None and model.cause != "ok":
        return Diagnosis(model.cause, model.detail, log.evidence)
    if log.cause == "unknown" or model is None:
        return log
    if log.cause == "no_response":
        return Diagnosis("no_response", f"{log.detail}; {model.detail}", log.evidence)
    return Diagnosis(
        "no_response",
        "the router's latest negotiation succeeded but the tunnel is down now and nothing "
        f"newer was logged (is `set security-association always-up` set?); {model.detail}",
        log.evidence,
    )


def _model(sides: _Sides, peer: CloudPeer) -> Diagnosis:
    """What ``ike.negotiate`` makes of the settings in force, with the line to change."""
    tunnel = sides.tunnel
    if isinstance(tunnel, str):
        return Diagnosis("no_response", f"{tunnel}: `fitelctl apply {sides.site}` configures it")
    outcome = negotiate(tunnel, peer, device_public_address=sides.outside)
    if outcome.cause == "ok":
        if sides.device_read:
            advice = "both sides' settings match now: make the F220 negotiate again"
            return Diagnosis("ok", f"{advice} (`clear crypto sa`)")
        return Diagnosis(
            "ok",
            f"the inventory's settings match the router's: `fitelctl apply {sides.site}` once "
            "the F220 can be reached",
        )
    if outcome.cause == "no_response":
        detail = (
            f"the F220's `set peer` is {tunnel.peer} but the VPC router's global address is "
            f"{peer.global_address}: set `set peer {peer.global_address}` in its "
            "`crypto isakmp profile`"
        )
    elif outcome.cause == "id_mismatch":
        detail = _identity_detail(sides, tunnel, peer)
    elif outcome.cause == "psk_mismatch":
        detail = _psk_detail(sides, tunnel, peer)
    elif tunnel.ike_version != 1:
        detail = IKEV2_DETAIL
    else:
        phase: Phase = "main" if outcome.cause == "proposal_mismatch_main_mode" else "quick"
        detail = _proposal_detail(sides, phase, tunnel, peer)
    return Diagnosis(outcome.cause, detail)


def _identity_detail(sides: _Sides, tunnel: DeviceTunnel, peer: CloudPeer) -> str:
    if peer.peer != sides.outside:
        return no_peer_entry_detail(sides.outside, sides.router_peers)
    return (
        f"the F220 presents identity {tunnel.self_identity or '(none)'} but the router's "
        f"RemoteID for {sides.outside} is {peer.remote_id}: set that RemoteID to "
        f"{tunnel.self_identity}, or `self-identity address {peer.remote_id}` in the F220's "
        "`crypto isakmp profile`"
    )


def _psk_detail(sides: _Sides, tunnel: DeviceTunnel, peer: CloudPeer) -> str:
    planned = sides.planned.psk
    if not sides.device_read:
        differ = f"the inventory's key and the router's PreSharedSecret for {sides.outside} differ"
        return f"{differ}: set the same key on both routers and in the inventory"
    differ = (
        "the pre-shared keys differ: the F220's `local-key` (crypto isakmp profile) is not the "
        f"router's PreSharedSecret for {sides.outside}"
    )
    if planned == peer.psk:
        fix = f"the inventory's key is the router's: `fitelctl apply {sides.site}` sets it"
    elif planned == tunnel.psk:
        fix = "the inventory's key is the F220's: set the router's PreSharedSecret to it and apply"
    else:
        fix = "the inventory's key is neither: choose one key, set it on both and in the inventory"
    return f"{differ}; {fix}"


def _proposal_detail(sides: _Sides, phase: Phase, tunnel: DeviceTunnel, peer: CloudPeer) -> str:
    want = accepted_set(peer)
    version = peer.router_version
    detail = f"{PHASE_NAMES[phase]} proposal refused: " + proposal_advice(
        phase, _offer(tunnel, phase), _wanted(want, phase), router_version=version
    )
    if phase == "main":
        quick = proposal_advice(
            "quick", _offer(tunnel, "quick"), _wanted(want, "quick"), router_version=version
        )
        detail += f"; then quick mode (ESP): {quick}" if quick else ""
    if not sides.device_read:
        return detail
    planned = negotiate(sides.planned, peer, device_public_address=sides.outside)
    if planned.cause == "ok":
        return (
            f"{detail}; the inventory already has settings that link: `fitelctl apply {sides.site}`"
        )
    return f"{detail}; the inventory's settings do not link either (`fitelctl check {sides.site}`)"


def _offer(tunnel: DeviceTunnel, phase: Phase) -> Offer:
    if phase == "main":
        cipher, bits = tunnel.ike_encryption, tunnel.ike_key_bits
        hashes, groups = {tunnel.ike_hash}, {tunnel.dh_group}
    else:
        cipher, bits = tunnel.esp_encryption.removeprefix("esp-"), tunnel.esp_key_bits
        esp_hash = HASH_BY_ESP.get(tunnel.esp_auth)
        hashes = {esp_hash.word if esp_hash else tunnel.esp_auth}
        groups = {tunnel.pfs_group} if tunnel.pfs_group else set()
    return Offer(
        ciphers=frozenset({cipher}),
        aes_bits=frozenset(bits if cipher == "aes" else ()),
        hashes=frozenset(hashes),
        groups=frozenset(groups),
    )


def _wanted(want: AcceptedSet, phase: Phase) -> Offer:
    return Offer(
        ciphers=frozenset({"aes"}),
        aes_bits=frozenset({want.aes_bits}),
        hashes=frozenset({want.hash}),
        groups=frozenset({want.dh_group if phase == "main" else want.pfs_group}),
    )
