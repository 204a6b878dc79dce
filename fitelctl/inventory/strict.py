"""The base of every inventory model: a mistyped key is an error, not ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    # .inf/.nan are YAML floats, and no timeout a socket or timer can take
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
