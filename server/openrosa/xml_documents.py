"""The OpenRosa XML documents the server sends: formList, manifest and OpenRosaResponse.

Built with lxml so every value is escaped; no Flask here, URLs come in ready-made.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

XFORMS_LIST = "http://openrosa.org/xforms/xformsList"
XFORMS_MANIFEST = "http://openrosa.org/xforms/xformsManifest"
HTTP_RESPONSE = "http://openrosa.org/http/response"


@dataclass(frozen=True)
class FormListEntry:
    form_id: str
    name: str
    version: str
    md5: str
    download_url: str
    manifest_url: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ManifestEntry:
    filename: str
    md5: str
    download_url: str


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _add(parent: etree._Element, ns: str, tag: str, text: str) -> None:
    etree.SubElement(parent, f"{{{ns}}}{tag}").text = text


def form_list(entries: list[FormListEntry]) -> bytes:
    root = etree.Element(f"{{{XFORMS_LIST}}}xforms", nsmap={None: XFORMS_LIST})
    for entry in entries:
        xform = etree.SubElement(root, f"{{{XFORMS_LIST}}}xform")
        # Element order follows the OpenRosa Form List API.
        _add(xform, XFORMS_LIST, "formID", entry.form_id)
        _add(xform, XFORMS_LIST, "name", entry.name)
        _add(xform, XFORMS_LIST, "version", entry.version)
        _add(xform, XFORMS_LIST, "hash", f"md5:{entry.md5}")
        if entry.description is not None:
            _add(xform, XFORMS_LIST, "descriptionText", entry.description)
        _add(xform, XFORMS_LIST, "downloadUrl", entry.download_url)
        if entry.manifest_url is not None:
            _add(xform, XFORMS_LIST, "manifestUrl", entry.manifest_url)
    return _serialize(root)


def manifest(entries: list[ManifestEntry]) -> bytes:
    root = etree.Element(f"{{{XFORMS_MANIFEST}}}manifest", nsmap={None: XFORMS_MANIFEST})
    for entry in entries:
        media = etree.SubElement(root, f"{{{XFORMS_MANIFEST}}}mediaFile")
        _add(media, XFORMS_MANIFEST, "filename", entry.filename)
        _add(media, XFORMS_MANIFEST, "hash", f"md5:{entry.md5}")
        _add(media, XFORMS_MANIFEST, "downloadUrl", entry.download_url)
    return _serialize(root)


def openrosa_response(message: str, nature: str = "submit_success") -> bytes:
    """The body Collect shows to the person: `nature` is "submit_success" or "error"."""
    root = etree.Element(f"{{{HTTP_RESPONSE}}}OpenRosaResponse", nsmap={None: HTTP_RESPONSE})
    element = etree.SubElement(root, f"{{{HTTP_RESPONSE}}}message", nature=nature)
    element.text = message
    return _serialize(root)
