"""Column mappings shipped for ``mulewatch import --mapping NAME``: one TOML file per known export."""

from __future__ import annotations

from importlib import resources


def shipped_mappings() -> list[str]:
    """The names ``--mapping`` accepts without a path."""
    return sorted(p.name.removesuffix(".toml") for p in resources.files(__name__).iterdir() if p.name.endswith(".toml"))


def shipped_text(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
