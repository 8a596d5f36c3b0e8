"""XForms given as XML rather than compiled from an XLSForm: reading an uploaded one, giving a
form a new version, and the media files a form expects with the kind of each.

Central accepts an XForm's XML as well as an XLSForm, and publishes a draft under a version
given at the last moment (`?version=`); both need the XForm itself, not the spreadsheet.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from server.domain.xform.safe_xml import XmlError, parse
from server.domain.xform.schema import XF, H, read_form
from server.domain.xform.xlsform import MAX_ID_LENGTH, CompileResult, Issue

# The media kinds Central names, by the `form` attribute of an itext value.
_ITEXT_KINDS = {"image": "image", "big-image": "image", "audio": "audio", "video": "video"}


@dataclass(frozen=True)
class ExpectedMedia:
    """A file the form loads on the phone: its name and Central's kind for it."""

    name: str
    kind: str  # "image" | "audio" | "video" | "file"


def read_xform(xform: bytes) -> CompileResult:
    """An uploaded XForm read as the compiler's result would be: its bytes kept as sent (their
    md5 is the form's hash), its fields and media read from them. Never raises for bad XML."""
    result = CompileResult(filename="form.xml")
    try:
        info = read_form(xform)
    except XmlError as exc:
        result.errors.append(Issue("error", exc.message))
        result.error_code = exc.code
        return result
    if not any(f["path"] == f"/{info.root_name}/meta/instanceID" for f in info.fields):
        # Every submission names itself by meta/instanceID; a form without it cannot be sent.
        result.errors.append(
            Issue("error", "The XForm has no meta/instanceID field in its primary instance.")
        )
        result.error_code = "xform.no_meta"
        return result
    for label, value in (("form id", info.xml_form_id), ("version", info.version)):
        if len(value) > MAX_ID_LENGTH:
            result.errors.append(
                Issue("error", f"The XForm's {label} is longer than {MAX_ID_LENGTH} characters.")
            )
    result.xform = xform
    result.info = info
    return result


def _primary_data(root: etree._Element) -> etree._Element:
    model = root.find(f"{{{H}}}head/{{{XF}}}model")
    instances = model.findall(f"{{{XF}}}instance") if model is not None else []
    primary = next((i for i in instances if i.get("id") is None), None)
    if primary is None or len(primary) == 0:
        raise XmlError("xform.no_instance", "The XForm has no primary <instance>.")
    return primary[0]


def with_version(xform: bytes, version: str) -> bytes:
    """The XForm with its primary instance's `version` attribute set to `version` (Central's
    publish with ?version=). Raises XmlError if the XForm or the version cannot be used."""
    if len(version) > MAX_ID_LENGTH:
        raise XmlError("xform.version_too_long", f"The version is longer than {MAX_ID_LENGTH}.")
    root = parse(xform)
    data = _primary_data(root)
    try:
        data.set("version", version)
    except ValueError:
        raise XmlError(
            "xform.version_invalid",
            "The version contains a character an XML attribute cannot hold.",
        ) from None
    declaration = xform.lstrip().startswith(b"<?xml")
    return etree.tostring(root, encoding="UTF-8", xml_declaration=declaration)


def expected_media(xform: bytes) -> list[ExpectedMedia]:
    """The media files the XForm references, by name, each with its kind (Central's form
    attachment types): external instances (CSV, XML, GeoJSON) are "file", label media the
    kind their itext value names. Raises XmlError for XML that is not an XForm."""
    root = parse(xform)
    found: dict[str, str] = {}
    model = root.find(f"{{{H}}}head/{{{XF}}}model")
    for instance in model.findall(f"{{{XF}}}instance") if model is not None else []:
        src = instance.get("src") or ""
        if instance.get("id") is not None and src.startswith("jr://file"):
            found.setdefault(src.rsplit("/", 1)[-1], "file")
    for value in root.iter(f"{{{XF}}}value"):
        text = (value.text or "").strip()
        kind = _ITEXT_KINDS.get(value.get("form") or "")
        if kind is not None and text.startswith("jr://"):
            found.setdefault(text.rsplit("/", 1)[-1], kind)
    return [ExpectedMedia(name, kind) for name, kind in sorted(found.items())]
