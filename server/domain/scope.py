"""Where a user works: the one rule for "is this org unit inside this user's areas".

Org units carry materialised paths ("/UG/UG-C/UG-101/"), so a unit lies inside an area when
its path starts with the area's path. Admins work everywhere; everyone else in the units they
are scoped to and everything under them. The receiver, the JSON API, the web pages, the plans'
workflow and the submission filters all ask this object (its SQL form is
server/models/org.py `in_scope`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from server.domain.roles import Role


@dataclass(frozen=True)
class Scope:
    """The org-unit paths a user may see; `everywhere` for admins."""

    everywhere: bool
    paths: tuple[str, ...] = ()

    @classmethod
    def of(cls, role: Role, paths: Iterable[str]) -> Scope:
        if role is Role.admin:
            return cls(everywhere=True)
        return cls(everywhere=False, paths=tuple(sorted(set(paths))))

    def covers(self, path: str) -> bool:
        """The unit at `path` lies inside one of the areas."""
        return self.everywhere or any(path.startswith(p) for p in self.paths)

    def reaches(self, path: str) -> bool:
        """One of the areas lies inside the unit at `path` (or is it): a sub-county officer
        reaches their district."""
        return self.everywhere or any(p.startswith(path) for p in self.paths)

    @property
    def areas(self) -> tuple[str, ...] | None:
        """The areas' paths; None for everywhere."""
        return None if self.everywhere else self.paths

    @property
    def tops(self) -> tuple[str, ...]:
        """The areas that lie inside no other area (a scope inside another adds nothing)."""
        return tuple(
            p for p in self.paths if not any(o != p and p.startswith(o) for o in self.paths)
        )
