"""The bench router's charon log, as the VPC router's syslog shows it.

The bench's charon writes its own file (``charon.py``: ``time_format = %b %e %T``)::

    Dec  6 22:31:05 09[CFG] <peer-126.169.118.242-tunnel-vti|1> selected peer config ...

and speaks from lab addresses (198.19.0.0/16: ``lab_network``, ``referee``).  The VPC
router's log, as downloaded, is syslog's, and its addresses are the configs' own::

    Dec  6 22:31:05 rt-112700568505 charon: 09[CFG] <peer-126.169.118.242-tunnel-vti|1> ...

``router_syslog`` turns the first into the second: the host name and ``charon:`` after
the time stamp, and every lab address replaced by the config address it stands for (the
inverse of ``LabAddresses``; ports such as ``[500]`` stay).  A lab address with no
config address, or a line of another shape, is an error: a log that still speaks of
the lab would not be the router's.  Addresses in 198.18.0.0/16 are config data (the
scenarios' ``site2``… public addresses, in connection names such as
``peer-198.18.0.2-tunnel-vti``) and stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: the article's VPC router (its log's host name)
ROUTER_HOSTNAME = "rt-112700568505"

_FILELOG_LINE = re.compile(
    r"^(?P<time>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?P<rest>\d+\[\w+\] .*)$"
)
#: an IPv4 address in 198.19.0.0/16, not part of a longer dotted number (charon writes
#: ``198.19.0.1...198.19.0.2[...]``: dots alone may touch it)
_LAB_ADDRESS = re.compile(r"(?<!\d)(?<!\d\.)198\.19\.\d{1,3}\.\d{1,3}(?!\d|\.\d)")


class RouterSyslogError(ValueError):
    """A line that is not charon's filelog line, or a lab address with no config address."""


def router_syslog(
    lines: Iterable[str], config_address: Mapping[str, str], *, hostname: str = ROUTER_HOSTNAME
) -> list[str]:
    """``lines`` of the bench's charon log in the router's syslog form.

    ``config_address`` maps each lab address that may appear to the config address it
    stands for (``{"198.19.0.1": "27.133.132.134", ...}``).
    """
    return [syslog_line(line, config_address, hostname) for line in lines]


def syslog_line(
    line: str, config_address: Mapping[str, str], hostname: str = ROUTER_HOSTNAME
) -> str:
    """One line of the bench's charon log in the router's syslog form."""
    match = _FILELOG_LINE.match(line)
    if match is None:
        raise RouterSyslogError(f"not a charon filelog line: {line!r}")

    def config(found: re.Match[str]) -> str:
        address = found.group()
        if address not in config_address:
            raise RouterSyslogError(f"lab address {address} stands for no config address: {line!r}")
        return config_address[address]

    rest = _LAB_ADDRESS.sub(config, match["rest"])
    return f"{match['time']} {hostname} charon: {rest}"
