"""Validate a submission's XML against its form version and flatten it into rows.

Pure: bytes and the version's field list (server/domain/xform/schema.py) in, a `Result` out.
The worker (workers/processing.py) stores the rows or the problems; nothing here touches a
database or a queue.

What is checked: the root element and its `id`/`version` attributes; that every element is a
question, group or repeat of this form version (anything under the top-level `meta` group is
accepted, since Collect adds instanceName, deprecatedID, audit and the like there); that
non-repeat elements occur at most once; each answer's type; and that required questions are
answered. Relevance and constraints are XPath expressions evaluated on the phone; they are not
evaluated here. So a required question is only enforced when neither it nor any group or repeat
around it has a `relevant` expression (it may legitimately have been skipped), and calculated
values are never required.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lxml import etree

from server.domain.xform.safe_xml import XmlError, local_name, parse
from server.domain.xform.typed_answers import InvalidValue, converter

JR_TEMPLATE = "{http://openrosa.org/javarosa}template"


@dataclass(frozen=True)
class FormSpec:
    """What a submission is checked against: the FormVersion's identity and field list."""

    xml_form_id: str
    version: str
    fields: list[dict[str, Any]]

    @cached_property
    def root_name(self) -> str:
        for entry in self.fields:
            return str(entry["path"]).split("/")[1]
        return "data"

    # Worked out once per spec rather than per submission: the worker checks a batch's
    # submissions of one form version against the same spec.
    @cached_property
    def index(self) -> dict[str, dict[str, Any]]:
        """The fields by path."""
        return {str(e["path"]): e for e in self.fields}

    @cached_property
    def converters(self) -> dict[str, Callable[[str], Any]]:
        """Each field's answer converter (values.converter), by path."""
        return {path: converter(entry) for path, entry in self.index.items()}

    @cached_property
    def required(self) -> list[dict[str, Any]]:
        """The fields whose answer is required: marked required, not calculated, and with no
        `relevant` condition on them or on a group around them (the server cannot tell
        whether those applied)."""
        return [e for e in self.fields if self._enforced(e)]

    def _enforced(self, entry: dict[str, Any]) -> bool:
        if entry["kind"] != "field" or not entry.get("required") or entry.get("calculate"):
            return False
        path = str(entry["path"])
        while len(path) > len(self.root_name) + 1:
            node = self.index.get(path)
            if node is not None and node.get("relevant"):
                return False
            path = path.rsplit("/", 1)[0]
        return True


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission. `path` is where (e.g. "staff[2]/age"), "" for the
    whole document; `message` is a full sentence that starts with that path."""

    path: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Row:
    """The top level (repeat_path "", position 0) or one repeat instance.

    Positions count a repeat's instances through the whole submission from 1, in document
    order, so (repeat_path, position) names one row; `parent_position` is the position of the
    enclosing repeat's row for nested repeats, None when the parent is the top level.
    """

    repeat_path: str
    position: int
    parent_position: int | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    rows: list[Row]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def failure_reason(self) -> str:
        """All problems, one per line, for a coordinator reading the data-quality annex."""
        return "\n".join(p.message for p in self.problems)


@dataclass
class _Instance:
    row: Row
    root_path: str  # schema path the row's data keys are relative to
    label: str  # how messages name the row ("" at the top level, "staff[2]" in a repeat)
    invalid: set[str] = field(default_factory=set)  # keys whose answers were refused

    def where(self, key: str) -> str:
        """How messages name the answer at `key` of this row."""
        return f"{self.label}/{key}" if self.label else key


def process(xml: bytes, form: FormSpec) -> Result:
    """Check `xml` against `form` and flatten it. Never raises for bad input."""
    try:
        root = parse(xml)
    except XmlError as exc:
        return Result([], [Problem("", f"The submission could not be read: {exc.message}")])
    return _Walker(form).run(root)


class _Walker:
    def __init__(self, form: FormSpec) -> None:
        self.form = form
        self.index = form.index
        self.converters = form.converters
        self.root_path = f"/{form.root_name}"
        self.meta_path = f"{self.root_path}/meta"
        self.problems: list[Problem] = []
        self.instances: list[_Instance] = []
        self.counters: Counter[str] = Counter()

    def problem(self, where: str, sentence: str) -> None:
        self.problems.append(Problem(where, f"{where}: {sentence}" if where else sentence))

    def run(self, root: etree._Element) -> Result:
        name = local_name(root)
        if name != self.form.root_name:
            self.problem(
                "",
                f"The submission's root element is <{name}>, but this form's is "
                f"<{self.form.root_name}>.",
            )
            return Result([], self.problems)
        sent_id = root.get("id") or ""
        if sent_id != self.form.xml_form_id:
            self.problem(
                "", f"The submission is for form {sent_id!r}, not {self.form.xml_form_id!r}."
            )
        sent_version = root.get("version") or ""
        if sent_version != self.form.version:
            self.problem(
                "",
                f"The submission was filled in on version {sent_version!r} of the form, "
                f"not version {self.form.version!r}.",
            )
        top = _Instance(Row("", 0, None), self.root_path, "")
        self.instances.append(top)
        self.walk(root, self.root_path, top)
        self.check_required()
        return Result([i.row for i in self.instances], self.problems)

    def walk(self, element: etree._Element, path: str, inst: _Instance) -> None:
        # The worker's busiest loop: once per element of every submission, so what is only
        # needed for a problem (where it is) is worked out only then.
        seen: dict[str, int] = {}
        data = inst.row.data
        skip = len(inst.root_path) + 1
        meta = self.meta_path + "/"
        for child in element:
            if not isinstance(child.tag, str) or child.get(JR_TEMPLATE) is not None:
                continue  # comments, processing instructions, repeat templates
            name = local_name(child)
            child_path = f"{path}/{name}"
            key = child_path[skip:]
            count = seen[name] = seen.get(name, 0) + 1
            entry = self.index.get(child_path)
            if entry is None:
                if child_path.startswith(meta):
                    if len(child) == 0:
                        data[key] = child.text or None
                else:
                    self.problem(inst.where(key), "this is not a question of this form version")
                continue
            kind = entry["kind"]
            if kind == "repeat":
                self.counters[child_path] += 1
                row = Row(
                    child_path,
                    self.counters[child_path],
                    inst.row.position if inst.row.repeat_path else None,
                )
                nested = _Instance(row, child_path, f"{inst.where(key)}[{count}]")
                self.instances.append(nested)
                self.walk(child, child_path, nested)
                continue
            if count > 1:
                if count == 2:
                    self.problem(inst.where(key), "appears more than once, but it is not a repeat")
                continue
            if kind == "group":
                self.walk(child, child_path, inst)
                continue
            if len(child) and any(isinstance(c.tag, str) for c in child):
                sentence = "expected an answer, found further elements inside it"
                self.problem(inst.where(key), sentence)
                inst.invalid.add(key)
                continue
            text = child.text
            if not text or not text.strip():
                data[key] = None
                continue
            try:
                data[key] = self.converters[child_path](text)
            except InvalidValue as exc:
                self.problem(inst.where(key), str(exc))
                inst.invalid.add(key)

    def check_required(self) -> None:
        for inst in self.instances:
            container = inst.row.repeat_path or None
            for entry in self.form.required:
                if (entry.get("repeat") or None) != container:
                    continue
                key = str(entry["path"])[len(inst.root_path) + 1 :]
                if key in inst.invalid or inst.row.data.get(key) not in (None, "", []):
                    continue
                self.problem(inst.where(key), "an answer is required, but none was given")
