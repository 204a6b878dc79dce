"""``fitelctl render``: the site's generated FITELnet config (no device contact)."""

from __future__ import annotations

from typing import Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import show_secrets_option


def render(
    site: Annotated[str, typer.Argument(help="Site to render.")],
    show_secrets: Annotated[
        bool,
        show_secrets_option(
            "Resolve the PSK reference and print the key. Off: a placeholder naming "
            "the reference, and the secret is not read."
        ),
    ] = False,
) -> None:
    """Print the IPsec configuration the inventory asks of SITE's F220.

    Pure generation: no SSH, no API. Same order and layout as a saved FITELnet
    config (blocks closed by `exit`, `!` between them).
    """
    from fitelctl.inventory import resolve_secret
    from fitelctl.inventory.fitelnet_config import render_text, render_tunnel

    inventory = context.inventory()
    config = inventory.site(site)
    psk = (
        resolve_secret(config.tunnel.psk, inventory, what=f"sites.{site}.tunnel.psk")
        if show_secrets
        else None
    )
    print(render_text(render_tunnel(config.tunnel, config.cloud, psk)), end="")
