"""What a submitted instance says about itself: form, version, instanceID, edits, place.

Pure functions over an already parsed lxml tree (server/domain/xform/safe_xml.py parses it once).
Elements are matched by local name, so `<meta>` and `<orx:meta>` (the OpenRosa namespace older
forms use) read the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

ORX = "http://openrosa.org/xforms"
# Longer IDs are refused with a message rather than left to fail the 255-character column.
MAX_INSTANCE_ID_LENGTH = 249
# Deepest first: the most precise place a submission names is the one we check.
LOCATION_LEVELS = ("parish", "subcounty", "district", "region")


class MetaError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SubmissionMeta:
    xml_form_id: str
    # The root's version attribute; "" when it has none (matches a version string of "").
    version: str
    instance_id: str
    deprecated_id: str | None
    instance_name: str | None


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        tag = child.tag
        # "{namespace}name" or "name"; comments and processing instructions have no str tag.
        # String slicing rather than etree.QName: this runs over every field of every
        # submission the receiver takes.
        if isinstance(tag, str) and tag.rpartition("}")[2] == name:
            return child
    return None


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def read_meta(root: etree._Element) -> SubmissionMeta:
    """Read the identifying facts of a submission, or raise MetaError saying what is wrong."""
    xml_form_id = (root.get("id") or "").strip()
    if not xml_form_id:
        raise MetaError(
            "submission.no_form_id",
            "The submission does not say which form it belongs to (no id attribute on its "
            "root element).",
        )
    meta = _child(root, "meta")
    instance_id = _text(_child(meta, "instanceID")) if meta is not None else None
    if instance_id is None:
        raise MetaError(
            "submission.no_instance_id",
            "The submission has no meta/instanceID, so it cannot be stored safely.",
        )
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise MetaError(
            "submission.instance_id_too_long",
            f"The submission's instanceID is longer than {MAX_INSTANCE_ID_LENGTH} characters.",
        )
    deprecated_id = _text(_child(meta, "deprecatedID")) if meta is not None else None
    if deprecated_id is not None and len(deprecated_id) > MAX_INSTANCE_ID_LENGTH:
        raise MetaError(
            "submission.instance_id_too_long",
            f"The submission's deprecatedID is longer than {MAX_INSTANCE_ID_LENGTH} characters.",
        )
    if deprecated_id == instance_id:
        raise MetaError(
            "submission.edit_same_id",
            "An edited submission must have a new instanceID, different from its deprecatedID.",
        )
    instance_name = _text(_child(meta, "instanceName")) if meta is not None else None
    return SubmissionMeta(
        xml_form_id=xml_form_id,
        version=(root.get("version") or "").strip(),
        instance_id=instance_id,
        deprecated_id=deprecated_id,
        instance_name=instance_name[:255] if instance_name else None,
    )


def read_path(root: etree._Element, path: str) -> str | None:
    """The text at an absolute schema path such as "/data/location/district", if present."""
    steps = [s for s in path.split("/") if s]
    if not steps:
        return None
    element: etree._Element | None = root
    for step in steps[1:]:  # steps[0] names the root itself
        element = _child(element, step) if element is not None else None
    return _text(element)


def deepest_location(root: etree._Element, fields: dict[str, str]) -> tuple[str, str] | None:
    """(level, code) of the most precise place the submission names, from `location_fields`."""
    for level in LOCATION_LEVELS:
        path = fields.get(level)
        if path is None:
            continue
        code = read_path(root, path)
        if code is not None:
            return level, code
    return None
