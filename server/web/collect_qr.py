"""ODK Collect configuration QR codes.

Collect's "Import settings" (Project settings > Reconfigure with QR code) reads a JSON document
with "general", "admin" and "project" sections, zlib-compressed and base64-encoded
(docs.getodk.org/collect-import-export). Settings the code leaves out are reset to their
defaults when scanned.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from typing import Any

import segno


def collect_settings(server_url: str, username: str, project_name: str) -> dict[str, Any]:
    return {
        "general": {
            "server_url": server_url,
            "username": username,
            # Phones follow what the server offers: new versions replace old, closed forms go.
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        # The server screen stays reachable: the code carries no password, so the enumerator
        # types it there (or when Collect first asks for it).
        "admin": {},
        "project": {"name": project_name, "icon": "D", "color": "#1d5e8c"},
    }


def app_user_settings(key_url: str, project_name: str) -> dict[str, Any]:
    """An app user's code, as ODK Central makes it: the server URL carries the key
    (<server>/v1/key/<token>/projects/1), so there is no username and no password to type."""
    return {
        "general": {
            "server_url": key_url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": project_name, "icon": "D", "color": "#1d5e8c"},
    }


def encode_settings(settings: dict[str, Any]) -> str:
    raw = json.dumps(settings, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def decode_settings(payload: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(payload)))
    return result


def qr_svg(payload: str) -> bytes:
    """A standalone SVG document (served as image/svg+xml)."""
    out = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(
        out, kind="svg", scale=5, border=4, title="ODK Collect settings"
    )
    return out.getvalue()
