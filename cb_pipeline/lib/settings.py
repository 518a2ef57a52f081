"""Run-time settings read from the environment (and CLI flags), with the spec's defaults.

Belongs here: names of environment variables and their defaults. Does not: reading files or
connecting to anything (see warehouse.py, ingest/).
"""

import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_WAREHOUSE_URL = "duckdb:///./data/warehouse.duckdb"


class ConfigurationError(Exception):
    """A setting is missing or wrong; the CLI exits with code 2."""


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    reference_dir: Path
    warehouse_url: str
    returns_dir: Path

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            landing_dir=Path(env.get("CB_LANDING_DIR", "./data/landing")),
            reference_dir=Path(env.get("CB_REFERENCE_DIR", "./data/reference")),
            warehouse_url=env.get("CB_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL),
            returns_dir=Path(env.get("CB_RETURNS_DIR", "./data/returns")),
        )

    def with_overrides(self, **kwargs) -> "Settings":
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})


def pseudonymisation_key(env: dict | None = None) -> bytes | None:
    """The HMAC key for NHS numbers, or None when unset (ingest refuses raw NHS numbers then)."""
    env = os.environ if env is None else env
    value = env.get("CB_PSEUDONYMISATION_KEY", "")
    return value.encode("utf-8") if value else None
