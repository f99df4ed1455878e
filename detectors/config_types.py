"""Base model and constrained field types shared by every section of the detector config."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Config section: unknown keys are errors (a typo must not silently fall back to a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleConfig(StrictModel):
    """Every rule can be switched off; a disabled rule is not even instantiated."""

    enabled: bool


Hours = Annotated[float, Field(gt=0, le=24 * 400)]
Minutes = Annotated[float, Field(gt=0, le=60 * 24 * 400)]
Days = Annotated[float, Field(gt=0, le=800)]
Count = Annotated[int, Field(ge=1, le=10_000)]
#: Money in the reference currency (major units, e.g. yuan).
Money = Annotated[float, Field(ge=0, le=1e13)]
Fraction = Annotated[float, Field(gt=0, le=1)]
WeightFactor = Annotated[float, Field(ge=1, le=4)]
