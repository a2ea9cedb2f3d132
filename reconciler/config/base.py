"""What every configuration model shares: unknown keys are errors, values are frozen, and
names (of providers, lists, warehouses) have one pattern."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
