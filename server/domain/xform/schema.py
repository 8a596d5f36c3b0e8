"""XForm -> field list: what a compiled form asks, in the order it asks it.

The list is stored with each FormVersion (FormVersion.schema) so the receiver and the workers
know a form's fields without parsing the XForm again. Each entry is a plain dict:

    {"path": "/data/school/pupils", "name": "pupils", "kind": "field",
     "type": "int", "required": True, "relevant": "...", "calculate": False,
     "select": None | "one" | "multiple", "choices": ["yes", "no"] | None,
     "choices_file": "subcounties.csv" | None, "repeat": "/data/staff" | None}

`kind` is "field", "group" or "repeat"; `repeat` names the innermost repeat a node lives in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from server.domain.xform.safe_xml import XmlError, local_name, parse

XF = "http://www.w3.org/2002/xforms"
H = "http://www.w3.org/1999/xhtml"
JR = "http://openrosa.org/javarosa"
NS = {"xf": XF, "h": H, "jr": JR}

# Bind types that carry no answer of their own in the instance's sense of "a question".
BINARY_TYPES = {"binary"}


@dataclass
class FormInfo:
    xml_form_id: str
    version: str
    title: str
    root_name: str
    fields: list[dict[str, Any]]
    # Files the form loads from the phone (jr://file/..., jr://file-csv/..., jr://images/...).
    media: list[str] = field(default_factory=list)


def _truthy(expr: str | None) -> bool:
    return bool(expr) and expr.strip().replace(" ", "") in {"true()", "true", "yes"}


def read_form(xform: bytes) -> FormInfo:
    """Read a compiled XForm. Raises XmlError if it is not a usable XForm."""
    root = parse(xform)
    model = root.find(f"{{{H}}}head/{{{XF}}}model")
    if model is None:
        raise XmlError("xform.no_model", "The XForm has no <model> in its <h:head>.")
    instances = model.findall(f"{{{XF}}}instance")
    primary = next(
        (i for i in instances if i.get("id") is None), instances[0] if instances else None
    )
    if primary is None or len(primary) == 0:
        raise XmlError("xform.no_instance", "The XForm has no primary <instance>.")
    data = primary[0]
    xml_form_id = data.get("id") or ""
    if not xml_form_id:
        raise XmlError("xform.no_id", "The XForm's primary instance has no id attribute.")
    version = data.get("version") or ""
    title_el = root.find(f"{{{H}}}head/{{{H}}}title")
    title = (title_el.text or "").strip() if title_el is not None else xml_form_id

    binds = {b.get("nodeset"): b for b in model.findall(f"{{{XF}}}bind")}
    choices, media = _choices_and_media(root, instances)
    controls = _controls(root)
    repeats = {
        r.get("nodeset") for r in root.iter(f"{{{XF}}}repeat") if r.get("nodeset") is not None
    }

    fields: list[dict[str, Any]] = []
    seen: set[str] = set()

    def walk(element: etree._Element, path: str, repeat: str | None) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = local_name(child)
            child_path = f"{path}/{name}"
            if child_path in seen:  # pyxform may emit a template and a first repeat instance
                continue
            seen.add(child_path)
            has_children = any(isinstance(c.tag, str) for c in child)
            if child_path in repeats:
                fields.append(
                    {
                        "path": child_path,
                        "name": name,
                        "kind": "repeat",
                        "repeat": repeat,
                        "relevant": _bind_attr(binds, child_path, "relevant"),
                    }
                )
                walk(child, child_path, child_path)
            elif has_children:
                fields.append(
                    {
                        "path": child_path,
                        "name": name,
                        "kind": "group",
                        "repeat": repeat,
                        "relevant": _bind_attr(binds, child_path, "relevant"),
                    }
                )
                walk(child, child_path, repeat)
            else:
                fields.append(
                    _field(child_path, name, repeat, binds.get(child_path), controls, choices)
                )

    walk(data, f"/{local_name(data)}", None)
    return FormInfo(xml_form_id, version, title, local_name(data), fields, sorted(set(media)))


def _bind_attr(binds: dict[str | None, etree._Element], path: str, attr: str) -> str | None:
    bind = binds.get(path)
    return bind.get(attr) if bind is not None else None


def _field(
    path: str,
    name: str,
    repeat: str | None,
    bind: etree._Element | None,
    controls: dict[str, tuple[str, etree._Element]],
    choices: dict[str, list[str] | str],
) -> dict[str, Any]:
    get = bind.get if bind is not None else (lambda _k, _d=None: None)
    entry: dict[str, Any] = {
        "path": path,
        "name": name,
        "kind": "field",
        "type": get("type") or "string",
        "required": _truthy(get("required")),
        "relevant": get("relevant"),
        "constraint": get("constraint"),
        "calculate": get("calculate") is not None,
        "repeat": repeat,
        "select": None,
        "choices": None,
        "choices_file": None,
    }
    control = controls.get(path)
    if control is not None:
        tag, element = control
        if tag in ("select1", "select"):
            entry["select"] = "one" if tag == "select1" else "multiple"
            items = element.findall(f"{{{XF}}}item/{{{XF}}}value")
            if items:
                entry["choices"] = [(v.text or "").strip() for v in items]
            itemset = element.find(f"{{{XF}}}itemset")
            if itemset is not None:
                source = _instance_name(itemset.get("nodeset") or "")
                found = choices.get(source) if source else None
                if isinstance(found, list):
                    entry["choices"] = found
                elif isinstance(found, str):
                    entry["choices_file"] = found
    return entry


def _instance_name(nodeset: str) -> str | None:
    start = nodeset.find("instance(")
    if start < 0:
        return None
    rest = nodeset[start + len("instance(") :]
    end = rest.find(")")
    return rest[:end].strip("'\" ") if end > 0 else None


def _choices_and_media(
    root: etree._Element, instances: list[etree._Element]
) -> tuple[dict[str, list[str] | str], list[str]]:
    choices: dict[str, list[str] | str] = {}
    media: list[str] = []
    for inst in instances:
        inst_id = inst.get("id")
        if inst_id is None:
            continue
        src = inst.get("src")
        if src:
            filename = src.rsplit("/", 1)[-1]
            choices[inst_id] = filename
            if src.startswith("jr://file"):
                media.append(filename)
            continue
        values = [(v.text or "").strip() for v in inst.iter(f"{{{XF}}}name")]
        choices[inst_id] = values
    # Images, audio and video referenced from labels (itext) are media files too.
    for value in root.iter(f"{{{XF}}}value"):
        text = (value.text or "").strip()
        if text.startswith("jr://") and value.get("form") in {
            "image",
            "audio",
            "video",
            "big-image",
        }:
            media.append(text.rsplit("/", 1)[-1])
    return choices, media


def _controls(root: etree._Element) -> dict[str, tuple[str, etree._Element]]:
    body = root.find(f"{{{H}}}body")
    found: dict[str, tuple[str, etree._Element]] = {}
    if body is None:
        return found
    for element in body.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith(f"{{{XF}}}"):
            continue
        ref = element.get("ref")
        if ref:
            found[ref] = (local_name(element), element)
    return found


def location_fields(fields: list[dict[str, Any]]) -> dict[str, str]:
    """Top-level fields named for an org level, e.g. {"district": "/data/district"}.

    The receiver reads these from a submission to check the submitter's area; forms name their
    location questions region, district, subcounty and parish (forms/README.md).
    """
    out: dict[str, str] = {}
    for entry in fields:
        if (
            entry["kind"] == "field"
            and entry["repeat"] is None
            and entry["name"] in {"region", "district", "subcounty", "parish"}
        ):
            out.setdefault(entry["name"], entry["path"])
    return out
