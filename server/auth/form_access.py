"""Who may fill which form, and who may submit for which place."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.principal import Principal, limited_to
from server.domain.roles import Role
from server.models import FormAssignment, User


class FormLike(Protocol):
    """A Form row, or a cached snapshot of one: access rules need only these two facts."""

    @property
    def id(self) -> int: ...

    @property
    def roles(self) -> list[str]: ...


F = TypeVar("F", bound=FormLike)


def assigned_form_ids(user: User, session: Session) -> set[int] | None:
    """The forms a user is limited to, or None when no assignment limits them.

    An enumerator with no assignment fills every form open to the role; an app user, as on
    ODK Central, only the forms assigned to it, so none until one is (an empty set)."""
    if not user.app_user and user.role is not Role.enumerator:
        return None
    rows = session.scalars(select(FormAssignment.form_id).where(FormAssignment.user_id == user.id))
    limit = limited_to(user.app_user, rows)
    return set(limit) if limit is not None else None


def can_fill(user: User, form: FormLike, session: Session) -> bool:
    """Whether `user` may download and submit `form` in Collect."""
    return _can_fill(user, form, assigned_form_ids(user, session))


class _Person(Protocol):
    @property
    def role(self) -> Role: ...

    @property
    def active(self) -> bool: ...


def _can_fill(user: _Person, form: FormLike, assigned: AbstractSet[int] | None) -> bool:
    if not user.active:
        return False
    if user.role is Role.admin:
        return True
    if user.role.value not in form.roles:
        return False
    return assigned is None or form.id in assigned


def fillable(user: User, forms: Iterable[F], session: Session) -> list[F]:
    """The forms of `forms` that `user` may fill, with one assignment query for them all."""
    assigned = assigned_form_ids(user, session)
    return [f for f in forms if _can_fill(user, f, assigned)]


def principal_can_fill(principal: Principal, form: FormLike) -> bool:
    """`can_fill` for a cached snapshot of the user, with no query."""
    return _can_fill(principal, form, principal.assigned_form_ids)
