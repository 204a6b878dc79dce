"""The cloud side: a client for the Sakura Cloud API's VPC router operations."""

from fitelctl.sakura.client import Call, Calls, SakuraClient
from fitelctl.sakura.config import ZONES, ApiSettings, MigrationCall, resolve_api_settings
from fitelctl.sakura.errors import SakuraError
from fitelctl.sakura.models import Appliance, RouterStatus, VpcRouterSettings, VpnLog

__all__ = [
    "ZONES",
    "ApiSettings",
    "Appliance",
    "Call",
    "Calls",
    "MigrationCall",
    "RouterStatus",
    "SakuraClient",
    "SakuraError",
    "VpcRouterSettings",
    "VpnLog",
    "resolve_api_settings",
]
