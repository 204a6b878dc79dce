"""API clients share one verifying TLS context: building one loads the whole CA bundle
(tens of ms of CPU), which a fleet `status` or an exporter poll would otherwise pay for
every VPC router it reads."""

from __future__ import annotations

import ssl

import pytest

from fitelctl.sakura.client import SakuraClient, tls_context
from fitelctl.sakura.config import ApiSettings


def test_clients_share_one_verifying_context(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[ssl.SSLContext] = []
    create = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        context = create(*args, **kwargs)  # type: ignore[arg-type]  # ssl's own signature
        built.append(context)
        return context

    tls_context.cache_clear()
    monkeypatch.setattr(ssl, "create_default_context", counting)
    try:
        for _ in range(5):
            with SakuraClient(ApiSettings(token="t", secret="s")):
                pass
    finally:
        tls_context.cache_clear()
    assert len(built) == 1
    shared = built[0]
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname
