from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Enum,
    ForeignKey,
    Index,
    String,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from server.db import Base, intpk
from server.domain.scope import Scope


class OrgLevel(enum.StrEnum):
    country = "country"
    region = "region"
    district = "district"
    subcounty = "subcounty"
    parish = "parish"


LEVEL_ORDER = [
    OrgLevel.country,
    OrgLevel.region,
    OrgLevel.district,
    OrgLevel.subcounty,
    OrgLevel.parish,
]


class OrgUnit(Base):
    """A node of country > region > district > sub-county > parish.

    `path` is the chain of codes from the root ("/UG/UG-C/UG-101/"), so "everything under this
    district" is one indexed prefix query and scope checks need no recursion.
    """

    __tablename__ = "org_units"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    level: Mapped[OrgLevel] = mapped_column(Enum(OrgLevel, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    parent: Mapped[OrgUnit | None] = relationship(remote_side="OrgUnit.id")

    __table_args__ = (Index("ix_org_units_path", "path"),)

    def contains(self, other: OrgUnit) -> bool:
        return other.path.startswith(self.path)


def canonical_code(code: str) -> str:
    """A code as the register keeps it: surrounding whitespace dropped, upper case.

    Codes enter the register upper-cased (server/services/orgunits.py), so whatever matches a
    typed or sent code case-insensitively (the receiver, once per submission) looks up its
    canonical form through the plain unique index on the column, with no functional index on
    lower(code) to keep in step."""
    return code.strip().upper()


def unit_by_code(session: Session, code: str) -> OrgUnit | None:
    """The org unit with this code, in whatever case it was typed."""
    return session.scalar(select(OrgUnit).where(OrgUnit.code == canonical_code(code)))


def under(path_column: Any, prefixes: Sequence[str]) -> ColumnElement[bool]:
    """SQL: the path lies under one of these paths (LIKE wildcards in codes escaped)."""
    if not prefixes:
        return false()
    return or_(*(path_column.startswith(p, autoescape=True) for p in prefixes))


def in_scope(scope: Scope, path_column: Any = None) -> ColumnElement[bool]:
    """SQL: `Scope.covers` for the rows of a query joined to org units (their path column)."""
    if scope.everywhere:
        return true()
    return under(OrgUnit.path if path_column is None else path_column, scope.paths)
