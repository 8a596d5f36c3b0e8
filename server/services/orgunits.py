"""The org hierarchy: importing units from CSV rows, Uganda's shipped regions and districts, and
a demo layer of sub-counties and parishes.

An import validates the whole file before writing anything, accepts rows in any order (a parent
may come after its children), writes the valid rows and reports every other row with its line
number and the reason, so one typo does not hold back a district's worth of sub-counties.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.aggregation import catalog_state
from server.models import AuditEvent, OrgUnit, User
from server.models.org import LEVEL_ORDER, OrgLevel, canonical_code
from server.settings import PROJECT_ROOT

UGANDA_CSV = PROJECT_ROOT / "forms" / "orgunits" / "uganda.csv"
COLUMNS = ("code", "name", "level", "parent_code")
# Codes are kept upper case (server/models/org.py `canonical_code`): they enter the register
# through `import_org_units`, which upper-cases them.
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,63}$")
MAX_CODE_LENGTH = 64
MAX_NAME = 255


@dataclass(frozen=True)
class OrgRow:
    line_no: int
    code: str
    name: str
    level: str
    parent_code: str = ""


@dataclass
class ImportReport:
    """Codes added, changed and unchanged; rejected rows as (line number, code, reason)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


class OrgFileError(ValueError):
    """The file as a whole cannot be read (wrong columns, not text)."""


def parse_org_csv(text: str) -> list[OrgRow]:
    """Rows of a code,name,level,parent_code CSV, numbered by their line in the file."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header and c != "parent_code"]
    if missing:
        raise OrgFileError(
            f"The file needs the columns {', '.join(COLUMNS)}; missing: {', '.join(missing)}."
        )
    reader.fieldnames = header
    rows: list[OrgRow] = []
    for record in reader:
        if not any((v or "").strip() for k, v in record.items() if k is not None):
            continue  # blank line
        rows.append(
            OrgRow(
                line_no=reader.line_num,
                code=(record.get("code") or "").strip(),
                name=(record.get("name") or "").strip(),
                level=(record.get("level") or "").strip().lower(),
                parent_code=(record.get("parent_code") or "").strip(),
            )
        )
    return rows


def rows_from_mappings(records: Iterable[Mapping[str, str]]) -> list[OrgRow]:
    """OrgRows from dicts, numbered as if line 1 were a header."""
    return [
        OrgRow(
            line_no=i,
            code=(r.get("code") or "").strip(),
            name=(r.get("name") or "").strip(),
            level=(r.get("level") or "").strip().lower(),
            parent_code=(r.get("parent_code") or "").strip(),
        )
        for i, r in enumerate(records, start=2)
    ]


def _canonical(row: OrgRow) -> OrgRow:
    return replace(row, code=canonical_code(row.code), parent_code=canonical_code(row.parent_code))


def _row_problem(row: OrgRow) -> str | None:
    if not row.code:
        return "the code is empty"
    if not CODE.match(row.code):
        return (
            f"the code {row.code!r} is not valid: use 1 to 64 letters, digits, '-', '_' or '.' "
            "(letters are kept as capitals)"
        )
    if row.level not in {lvl.value for lvl in OrgLevel}:
        levels = ", ".join(lvl.value for lvl in LEVEL_ORDER)
        return f"unknown level {row.level!r}; use one of: {levels}"
    if not row.name:
        return "the name is empty"
    if len(row.name) > MAX_NAME:
        return f"the name is longer than {MAX_NAME} characters"
    if row.level == OrgLevel.country and row.parent_code:
        return "a country has no parent; leave parent_code empty"
    if row.level != OrgLevel.country and not row.parent_code:
        return f"a {row.level} needs a parent_code"
    if row.parent_code == row.code:
        return "a unit cannot be its own parent"
    return None


def _level_index(level: str) -> int:
    return LEVEL_ORDER.index(OrgLevel(level))


def import_org_units(
    session: Session,
    rows: Iterable[OrgRow],
    actor: User | None = None,
    demo: bool = False,
) -> ImportReport:
    """Add or update the valid rows; report the others. Idempotent.

    Media generated from the hierarchy is not refreshed here (the caller has the blob store):
    call `server.services.orgunit_media.refresh_orgunit_media` after a successful import.
    """
    rows = [_canonical(row) for row in rows]
    report = ImportReport()
    rejected_codes: set[str] = set()

    def reject(row: OrgRow, reason: str) -> None:
        report.rejected.append((row.line_no, row.code, reason))
        if row.code:
            rejected_codes.add(row.code)

    first_line: dict[str, int] = {}
    duplicated: set[str] = set()
    for row in rows:
        if row.code in first_line:
            duplicated.add(row.code)
        else:
            first_line.setdefault(row.code, row.line_no)

    pending: dict[str, OrgRow] = {}
    for row in rows:
        problem = _row_problem(row)
        if problem is None and row.code in duplicated:
            # Neither copy is taken: which one the author meant is theirs to say.
            problem = (
                f"the code {row.code} appears more than once (first on line {first_line[row.code]})"
            )
        if problem is not None:
            reject(row, problem)
        else:
            pending[row.code] = row

    # The whole hierarchy is a few thousand rows: load it once rather than query per row.
    existing = {unit.code: unit for unit in session.scalars(select(OrgUnit))}

    # Accept rows parent-first, whatever their order in the file. Rows still waiting when no
    # more progress is possible wait on each other: their parent chain is a cycle.
    accepted: list[OrgRow] = []
    accepted_levels: dict[str, str] = {}
    progress = True
    while pending and progress:
        progress = False
        for code, row in list(pending.items()):
            parent_level: str | None = None
            if row.level == OrgLevel.country:
                parent_level = None
            elif row.parent_code in rejected_codes:
                del pending[code]
                reject(row, f"its parent {row.parent_code} was rejected")
                progress = True
                continue
            elif row.parent_code in pending:
                continue
            elif row.parent_code in accepted_levels:
                parent_level = accepted_levels[row.parent_code]
            elif row.parent_code in existing:
                parent_level = existing[row.parent_code].level.value
            else:
                del pending[code]
                reject(row, f"unknown parent {row.parent_code}: not in the file nor on the server")
                progress = True
                continue
            del pending[code]
            progress = True
            problem = _placement_problem(session, row, parent_level, existing.get(code))
            if problem is not None:
                reject(row, problem)
            else:
                accepted.append(row)
                accepted_levels[code] = row.level
    for row in pending.values():
        reject(row, f"its parent chain loops back on itself ({_cycle(row, pending)})")

    units = dict(existing)
    for row in accepted:
        _apply(session, row, units, demo, report)
    report.rejected.sort()
    session.flush()
    if report.added or report.changed:
        session.add(
            AuditEvent(
                actor_id=actor.id if actor is not None else None,
                action="org.import",
                target_type="org_units",
                target_id="*",
                details={
                    "added": len(report.added),
                    "changed": len(report.changed),
                    "rejected": len(report.rejected),
                    "demo": demo,
                },
            )
        )
        session.flush()
    return report


def _placement_problem(
    session: Session, row: OrgRow, parent_level: str | None, current: OrgUnit | None
) -> str | None:
    if parent_level is not None and _level_index(row.level) != _level_index(parent_level) + 1:
        expected = (
            LEVEL_ORDER[_level_index(parent_level) + 1].value if parent_level != "parish" else None
        )
        if expected is None:
            return f"its parent {row.parent_code} is a parish, which has no sub-units"
        return (
            f"a {row.level} cannot sit under the {parent_level} {row.parent_code}: "
            f"the level one below a {parent_level} is {expected}"
        )
    if current is not None and current.level.value != row.level:
        has_children = session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id == current.id))
        if has_children is not None:
            return (
                f"{row.code} is a {current.level.value} with sub-units, so its level cannot "
                f"change to {row.level}"
            )
    return None


def _cycle(row: OrgRow, pending: dict[str, OrgRow]) -> str:
    chain = [row.code]
    code = row.parent_code
    while code in pending and code not in chain:
        chain.append(code)
        code = pending[code].parent_code
    chain.append(code)
    return " > ".join(chain)


def _apply(
    session: Session, row: OrgRow, units: dict[str, OrgUnit], demo: bool, report: ImportReport
) -> None:
    parent = units.get(row.parent_code) if row.parent_code else None
    if row.parent_code and parent is None:
        parent = session.scalar(select(OrgUnit).where(OrgUnit.code == row.parent_code))
    path = f"{parent.path if parent else '/'}{row.code}/"
    unit = units.get(row.code)
    if unit is None:
        unit = OrgUnit(
            code=row.code,
            name=row.name,
            level=OrgLevel(row.level),
            parent=parent,
            path=path,
            is_demo=demo,
        )
        session.add(unit)
        units[row.code] = unit
        report.added.append(row.code)
        return
    same = (
        unit.name == row.name
        and unit.level.value == row.level
        and unit.parent_id == (parent.id if parent else None)
        and unit.path == path
        and unit.is_demo == demo
    )
    if same:
        report.unchanged.append(row.code)
        return
    unit.name = row.name
    unit.level = OrgLevel(row.level)
    unit.is_demo = demo
    if unit.path != path:
        _move(session, unit, parent, path)
    report.changed.append(row.code)


def _move(session: Session, unit: OrgUnit, parent: OrgUnit | None, new_path: str) -> None:
    """Re-parent a unit and rewrite the path of everything under it."""
    old_path = unit.path
    session.flush()
    descendants = session.scalars(
        select(OrgUnit).where(
            OrgUnit.path.startswith(old_path, autoescape=True), OrgUnit.id != unit.id
        )
    ).all()
    unit.parent = parent
    unit.path = new_path
    for child in descendants:
        child.path = new_path + child.path[len(old_path) :]
    # Its submissions' contributions sit under its old ancestors until the aggregates are
    # rebuilt (at the next sweep).
    catalog_state.request_rebuild(session, f"org unit {unit.code} moved to a new parent")


def load_csv_file(
    session: Session, path: Path, actor: User | None = None, demo: bool = False
) -> ImportReport:
    return import_org_units(
        session, parse_org_csv(path.read_text(encoding="utf-8")), actor=actor, demo=demo
    )


def ensure_uganda(session: Session) -> ImportReport:
    """Load the shipped country, regions and districts (a no-op once they are there)."""
    return load_csv_file(session, UGANDA_CSV)


# Syllables of place names common across Uganda, combined to make sub-county and parish names
# that read plausibly on a phone yet are marked "(demo)" everywhere they appear.
_STARTS = [
    "Ki",
    "Bu",
    "Na",
    "Ka",
    "Lwa",
    "Mpi",
    "Bwe",
    "Nyi",
    "Rwe",
    "Ato",
    "Ogu",
    "Lo",
    "Ma",
    "Ki",
]
_MIDDLES = ["sa", "ga", "ra", "ti", "bo", "ku", "ye", "ndo", "we", "li", "mu", "nga"]
_ENDS = ["na", "la", "zi", "ke", "ro", "bi", "go", "ma", "ti", "nda", "le", "ja"]
DEMO_SUFFIX = " (demo)"


def _demo_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(_STARTS) + rng.choice(_MIDDLES) + rng.choice(_ENDS)
        if name not in names:
            names.append(name)
    return names


def demo_rows(district_codes: list[str], seed: int = 0) -> list[OrgRow]:
    """Sub-counties (6-15 per district) and parishes (3-6 per sub-county), the same every time
    for the same district and seed."""
    rows: list[OrgRow] = []
    for district in district_codes:
        rng = random.Random(f"{seed}:{district}")
        for s, sc_name in enumerate(_demo_names(rng, rng.randint(6, 15)), start=1):
            sc_code = f"{district}-S{s:02d}"
            rows.append(OrgRow(0, sc_code, f"{sc_name}{DEMO_SUFFIX}", "subcounty", district))
            for p, parish in enumerate(_demo_names(rng, rng.randint(3, 6)), start=1):
                rows.append(
                    OrgRow(0, f"{sc_code}-P{p:02d}", f"{parish}{DEMO_SUFFIX}", "parish", sc_code)
                )
    return [OrgRow(i, r.code, r.name, r.level, r.parent_code) for i, r in enumerate(rows, 1)]


def make_demo_hierarchy(session: Session, districts: int, seed: int = 0) -> list[str]:
    """Give `districts` real districts (chosen by `seed`) demo sub-counties and parishes.

    Returns the chosen district codes. Asking for more districts later keeps the earlier ones.
    """
    real = sorted(
        session.scalars(
            select(OrgUnit.code).where(
                OrgUnit.level == OrgLevel.district, OrgUnit.is_demo.is_(False)
            )
        )
    )
    if not real:
        raise OrgFileError("Load the districts first (ensure_uganda) before adding demo units.")
    random.Random(seed).shuffle(real)
    chosen = sorted(real[: max(0, districts)])
    report = import_org_units(session, demo_rows(chosen, seed), demo=True)
    if report.rejected:
        _line, code, reason = report.rejected[0]
        raise OrgFileError(f"demo unit {code} could not be added: {reason}")
    return chosen
