"""Key material and secrets never leave the process unless asked for."""

from __future__ import annotations

from pathlib import Path

from fitelctl.redact import MASK, redact_text

ARTICLE = (
    Path(__file__).parent.parent
    / "parsers/furukawa_fitelnet/show_crypto_sa/ipsec_format_article.raw"
).read_text()
KEYS = (
    "5cfc51fc465b4743718389b0d401d39c",
    "0863fb7d9f439b5f7842bc7b1588e165bc736ac0",
    "d0470f34d9baba9f369cd5ba0b877f11",
    "e0dd472e17d86b4ad21c82841734d16b1cd21195",
)


def test_article_keys_are_masked_and_the_rest_kept() -> None:
    assert all(key in ARTICLE for key in KEYS)
    clean = redact_text(ARTICLE)
    assert not any(key in clean for key in KEYS)
    assert clean.count(f"Cipher Key    : {MASK}") == 2
    assert "SPI : 93c1ab67" in clean and "Packets       : 821" in clean


def test_config_psk_and_known_values_are_masked() -> None:
    text = " local-key THIS-IS-SECRET-KEY\n local-key ascii other-key\nlogin with pw123456"
    clean = redact_text(text, ["pw123456"])
    assert "THIS-IS-SECRET-KEY" not in clean and "other-key" not in clean
    assert "pw123456" not in clean and "local-key <redacted>" in clean


def test_password_config_lines_are_masked_but_prose_is_not() -> None:
    text = "username admin password p4ss\nenable password 0 en4ble\nmust be a secret reference"
    clean = redact_text(text)
    assert "p4ss" not in clean and "en4ble" not in clean
    assert "must be a secret reference" in clean


def test_redacting_json_keeps_it_json_and_is_idempotent() -> None:
    import json

    from fitelctl.redact import SecretRegistry

    registry = SecretRegistry()
    registry.add('p"s\\k')
    line = json.dumps({"diff": [" local-key abc", "exit"], "note": 'p"s\\k'})
    once = registry.redact(line)
    assert json.loads(once) == {"diff": [" local-key <redacted>", "exit"], "note": "<redacted>"}
    assert registry.redact(once) == once
