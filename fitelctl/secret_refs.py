"""Secret references (``env:NAME``, ``file:PATH``, ``keyring:SERVICE/USER``) as a type.

Kept apart from the inventory loader so every model that holds a secret (device
passwords, tunnel PSKs) validates it the same way.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

SECRET_SCHEMES = ("env", "file", "keyring")


def _check_secret_ref(value: str) -> str:
    scheme, _, target = value.partition(":")
    if scheme not in SECRET_SCHEMES:
        raise ValueError(
            "must be a secret reference (env:NAME, file:PATH or keyring:SERVICE/USER), "
            "never the secret itself"
        )
    if not target:
        raise ValueError("secret reference has an empty target")
    return value


#: A reference to a secret, e.g. ``file:secrets/tokyo.password`` or ``env:F220_PASSWORD``.
SecretRef = Annotated[str, AfterValidator(_check_secret_ref)]
