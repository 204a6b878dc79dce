"""The API's JSON for a VPC router, as it really comes back.

Real answers have quirks the models absorb (fixtures in ``tests/data/sakura``):
IDs are integers or strings (``X-Sakura-Bigint-As-Int``), flags are the strings
``"True"``/``"False"``, ``Interfaces`` lists keep ``null`` for unused NICs (the
position is the NIC index, so the gaps are kept), and ``Remark.Servers`` comes
back as ``[[]]``, ``[""]`` or ``[{}]`` when empty.

Settings are written back whole (``PUT /appliance/:id`` replaces them), so a
model must not lose what it does not know (firewall, NAT, DHCP...): every model
keeps the unknown keys it was read from in a private attribute, out of its
fields, its repr and its ordinary dumps, and ``to_api()`` puts them back.
``to_api()`` sends the known fields that were read or assigned (assignments are
validated), never defaults the API did not send.
Pre-shared keys are ``SecretStr`` and are registered with ``SECRETS`` when read;
only ``to_api()`` reveals them, for the request body.

Numbers may come back as strings (``"Lifetime": "28800"``; the SDK types
``PercentageOfMemoryFree`` as ``[]StringNumber`` and the published site-to-site
connection details, sacloud/libsacloud ``sacloud/sitetosite_connection_detail.go``,
have every value a string): integer fields accept both, and a string that is
not a number is refused with the field's path (``Settings.Router.
SiteToSiteIPsecVPN.IKE.Lifetime: Input should be a valid integer``).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from fitelctl.redact import SECRETS

API_CONTEXT = {"api": True}


def _flag(value: object) -> object:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _flag_out(value: bool) -> str:
    return "True" if value else "False"


#: ``"True"``/``"False"`` on the wire, ``bool`` in Python.
Flag = Annotated[bool, BeforeValidator(_flag), PlainSerializer(_flag_out, return_type=str)]


def _secret_out(value: SecretStr | str, info: SerializationInfo) -> str:
    """Masked unless writing to the API (a plain ``str`` gets here via ``model_copy``)."""
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    if info.context and info.context.get("api"):
        return plain
    return str(SecretStr(plain))


#: A secret that only ``to_api()`` reveals.
Secret = Annotated[SecretStr, PlainSerializer(_secret_out, return_type=str)]


def _numbers(value: object) -> object:
    """``PercentageOfMemoryFree`` is ``[]StringNumber`` in the SDK; accept a bare value too."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class ApiModel(BaseModel):
    """Base: API field names, unknown keys kept aside for the round trip."""

    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, validate_assignment=True, hide_input_in_errors=True
    )
    _unknown: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_unknown(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        model = handler(data)
        if isinstance(data, dict) and isinstance(model, ApiModel):
            known = {field.alias or name for name, field in cls.model_fields.items()}
            model._unknown = {k: v for k, v in data.items() if k not in known}
        return model

    @model_serializer(mode="wrap")
    def _with_unknown(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        known: dict[str, Any] = handler(self)
        if info.context and info.context.get("api"):
            return {**self._unknown, **known}
        return known

    def to_api(self) -> dict[str, Any]:
        """The JSON to send: fields read or set over the unknown ones as read, secrets revealed."""
        data: dict[str, Any] = self.model_dump(
            mode="json", by_alias=True, exclude_unset=True, context=API_CONTEXT
        )
        return data


# -- Settings.Router.SiteToSiteIPsecVPN ---------------------------------------------


class SiteToSitePeer(ApiModel):
    Peer: str
    PreSharedSecret: Secret = SecretStr("")
    RemoteID: str = ""
    Routes: list[str] = Field(default_factory=list)
    LocalPrefix: list[str] = Field(default_factory=list)

    @field_validator("PreSharedSecret", mode="after")
    @classmethod
    def _register(cls, value: SecretStr) -> SecretStr:
        SECRETS.add(value.get_secret_value())
        return value


class DeadPeerDetection(ApiModel):
    Interval: int | None = None
    Timeout: int | None = None


class IkeSettings(ApiModel):
    Lifetime: int | None = None
    DPD: DeadPeerDetection | None = None


class EspSettings(ApiModel):
    Lifetime: int | None = None


class SiteToSiteVpn(ApiModel):
    #: ``Config`` on the wire (the name is reserved by pydantic)
    peers: list[SiteToSitePeer] = Field(default_factory=list, alias="Config")
    IKE: IkeSettings | None = None
    ESP: EspSettings | None = None
    #: version 2 only: aes128 | aes256
    EncryptionAlgo: str | None = None
    #: version 2 only: sha1 | sha256
    HashAlgo: str | None = None
    #: version 2 only: modp1024 | modp2048 | modp3072 | modp4096
    DHGroup: str | None = None
    Enabled: Flag | None = None


class RouterInterfaceSetting(ApiModel):
    IPAddress: list[str] = Field(default_factory=list)
    VirtualIPAddress: str | None = None
    NetworkMaskLen: int | None = None


class RouterSettings(ApiModel):
    Interfaces: list[RouterInterfaceSetting | None] = Field(default_factory=list)
    SiteToSiteIPsecVPN: SiteToSiteVpn | None = None


class VpcRouterSettings(ApiModel):
    """``Appliance.Settings``; also what the control panel exports."""

    Router: RouterSettings | None = None


# -- the appliance --------------------------------------------------------------------


class IdRef(ApiModel):
    ID: int


class RemarkServer(ApiModel):
    IPAddress: str | None = None


def _servers(value: object) -> object:
    """Drop the placeholders an empty server list comes back as: ``[[]]``, ``[""]``, ``[{}]``."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict) and item]


class RemarkRouter(ApiModel):
    VPCRouterVersion: int | None = None


class ApplianceRemark(ApiModel):
    Router: RemarkRouter | None = None
    Servers: Annotated[list[RemarkServer], BeforeValidator(_servers)] = Field(default_factory=list)
    Zone: IdRef | None = None


class ApplianceInstance(ApiModel):
    Status: str | None = None
    StatusChangedAt: datetime | None = None


class SwitchSubnet(ApiModel):
    NetworkAddress: str | None = None
    NetworkMaskLen: int | None = None
    DefaultRoute: str | None = None


class ConnectedSwitch(ApiModel):
    ID: int | None = None
    Scope: str | None = None
    Subnet: SwitchSubnet | None = None


class ApplianceInterface(ApiModel):
    IPAddress: str | None = None
    Switch: ConnectedSwitch | None = None


class Appliance(ApiModel):
    """``GET /appliance/:id``'s ``Appliance``."""

    ID: int
    Class: str
    Name: str = ""
    Description: str = ""
    Plan: IdRef | None = None
    Settings: VpcRouterSettings | None = None
    SettingsHash: str = ""
    Remark: ApplianceRemark | None = None
    Availability: str = ""
    Instance: ApplianceInstance | None = None
    Interfaces: list[ApplianceInterface | None] = Field(default_factory=list)

    @property
    def vpc_router_version(self) -> int | None:
        """``Remark.Router.VPCRouterVersion``; None when the answer does not say."""
        router = self.Remark.Router if self.Remark else None
        return router.VPCRouterVersion if router else None

    @property
    def instance_status(self) -> str | None:
        return self.Instance.Status if self.Instance else None

    @property
    def site_to_site(self) -> SiteToSiteVpn | None:
        router = self.Settings.Router if self.Settings else None
        return router.SiteToSiteIPsecVPN if router else None


# -- status, logs, monitor --------------------------------------------------------------


class PeerStatus(ApiModel):
    Status: str
    Peer: str

    @property
    def up(self) -> bool:
        return self.Status.upper() == "UP"


class RouterStatus(ApiModel):
    """``GET /appliance/:id/status``'s ``Router``."""

    SiteToSiteIPsecVPNPeers: list[PeerStatus] = Field(default_factory=list)
    VPNLogs: list[str] = Field(default_factory=list)
    SessionCount: int | None = None
    PercentageOfMemoryFree: Annotated[list[float], BeforeValidator(_numbers)] = Field(
        default_factory=list
    )

    @field_validator("SiteToSiteIPsecVPNPeers", "VPNLogs", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    def peer(self, address: str) -> PeerStatus | None:
        return self._peers_by_address.get(address)

    @functools.cached_property
    def _peers_by_address(self) -> dict[str, PeerStatus]:
        """Every site of a fleet looks its peer up in the same router read."""
        found: dict[str, PeerStatus] = {}
        for peer in self.SiteToSiteIPsecVPNPeers:
            found.setdefault(peer.Peer, peer)
        return found


class VpnLog(ApiModel):
    """``GET /appliance/:id/download/log/VPNLogs``: the log at the top of the body."""

    Log: str = ""

    @property
    def lines(self) -> list[str]:
        return self.Log.splitlines()


# -- site-to-site connection details ------------------------------------------------


def _null_is_empty(value: object) -> object:
    return [] if value is None else value


class ConnectionCrypto(ApiModel):
    """A connection's ``IKE`` or ``ESP`` section: every value a string in the published answer.

    The published sample (sacloud/libsacloud,
    ``sacloud/sitetosite_connection_detail_test.go``) has ``IKE.Lifetime "1800"``
    and ``ESP.Lifetime "28800"``: the other way round from the manual and the
    settings (IKE 28800, ESP 1800), so ``fitelctl.ops.cloud`` reports where each
    value came from instead of trusting the section names.
    """

    AuthenticationProtocol: str | None = None
    EncryptionProtocol: str | None = None
    DHGroup: str | None = None
    Lifetime: int | None = None
    Mode: str | None = None
    PerfectForwardSecrecy: str | None = None
    PreSharedSecret: Secret | None = None

    @field_validator("PreSharedSecret", mode="after")
    @classmethod
    def _register(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            SECRETS.add(value.get_secret_value())
        return value


class ConnectionEnd(ApiModel):
    """``Peer`` or ``VPCRouter`` of a connection."""

    ID: str | None = None
    InsideNetworks: Annotated[list[str], BeforeValidator(_null_is_empty)] = Field(
        default_factory=list
    )
    OutsideIPAddress: str | None = None


class SiteToSiteConnection(ApiModel):
    Index: int | None = None
    IKE: ConnectionCrypto | None = None
    ESP: ConnectionCrypto | None = None
    Peer: ConnectionEnd | None = None
    VPCRouter: ConnectionEnd | None = None


class ConnectionDetailsList(ApiModel):
    #: ``Config`` on the wire; ``null`` when there is no peer
    connections: Annotated[list[SiteToSiteConnection], BeforeValidator(_null_is_empty)] = Field(
        default_factory=list, alias="Config"
    )


class ConnectionDetails(ApiModel):
    """``GET /appliance/:id/vpcrouter/sitetosite/connectiondetails`` (envelope included)."""

    Details: ConnectionDetailsList = Field(default_factory=ConnectionDetailsList)

    def for_peer(self, address: str) -> tuple[int, SiteToSiteConnection] | None:
        """The connection to ``address`` and its position in ``Details.Config``."""
        return next(
            (
                (index, c)
                for index, c in enumerate(self.Details.connections)
                if c.Peer and c.Peer.OutsideIPAddress == address
            ),
            None,
        )


class CpuSample(ApiModel):
    cpu_time: float | None = Field(default=None, alias="CPU-TIME")


def _samples(value: object) -> object:
    """Points without data come back as ``[]`` or ``null``; keep only real samples."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, dict) and v.get("CPU-TIME") is not None}


class CpuMonitor(ApiModel):
    """``GET /appliance/:id/cpu/monitor``: ``Data{time: {"CPU-TIME": x}}``."""

    Data: Annotated[dict[datetime, CpuSample], BeforeValidator(_samples)] = Field(
        default_factory=dict
    )

    def series(self) -> list[tuple[datetime, float]]:
        """(time, CPU-TIME) in time order."""
        return sorted((t, s.cpu_time) for t, s in self.Data.items() if s.cpu_time is not None)
