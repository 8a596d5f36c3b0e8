"""Creating users and changing their credentials."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from server.domain.roles import Role
from server.models import User, UserScope
from server.models.org import unit_by_code

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    pass


def digest_ha1(username: str, realm: str, password: str) -> str:
    # RFC 7616 with MD5, which is what ODK Collect sends.
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def set_password(user: User, password: str, realm: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    user.password_hash = generate_password_hash(password)
    user.digest_ha1 = digest_ha1(user.username, realm, password)
    user.credentials_version = (user.credentials_version or 0) + 1


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role | str,
    realm: str,
    scope_codes: list[str] | tuple[str, ...] = (),
    display_name: str = "",
) -> User:
    if not USERNAME.match(username):
        raise UserError(
            "A username is 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter "
            "or digit."
        )
    try:
        role = Role(role)
    except ValueError:
        raise UserError(
            f"Unknown role {role!r}; choose one of: {', '.join(r.value for r in Role)}."
        ) from None
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"A user named {username!r} already exists.")
    user = User(username=username, role=role, display_name=display_name or username)
    set_password(user, password, realm)
    for code in scope_codes:
        unit = unit_by_code(session, code)
        if unit is None:
            raise UserError(f"No org unit has the code {code!r}.")
        user.scopes.append(UserScope(org_unit=unit))
    if role in (Role.enumerator, Role.subcounty_staff, Role.coordinator) and not user.scopes:
        raise UserError(f"A {role.value} needs at least one --scope (an org unit code).")
    session.add(user)
    session.flush()
    return user
