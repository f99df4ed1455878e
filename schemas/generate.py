"""Generate the checked-in JSON Schema files from the pydantic models, and detect drift.

Case-management systems code against these files, so a model change that is not followed by a
regenerated, reviewed schema file must fail the tests (``mulewatch schemas --check``).
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.alerts import ALERT_ADAPTER, ALERT_SCHEMA_VERSION
from schemas.dispositions import DISPOSITION_ADAPTER, DISPOSITION_SCHEMA_VERSION
from schemas.events import EVENT_ADAPTER, EVENTS_SCHEMA_VERSION

SCHEMA_DIR = Path(__file__).resolve().parent


def render() -> dict[str, str]:
    """File name to file text of every generated schema."""
    documents = {
        "input-event.schema.json": (EVENT_ADAPTER, "InputEvent", EVENTS_SCHEMA_VERSION),
        "alert.schema.json": (ALERT_ADAPTER, "Alert", ALERT_SCHEMA_VERSION),
        "disposition.schema.json": (DISPOSITION_ADAPTER, "Disposition", DISPOSITION_SCHEMA_VERSION),
    }
    files = {}
    for name, (adapter, title, version) in documents.items():
        schema = adapter.json_schema(mode="validation")
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://mulewatch.dev/schemas/{name}",
            "title": title,
            "version": version,
            **{k: v for k, v in schema.items() if k != "title"},
        }
        files[name] = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return files


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file; returns the paths written."""
    written = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def drifted(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that are missing or differ from what the models generate."""
    stale = []
    for name, text in render().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale
