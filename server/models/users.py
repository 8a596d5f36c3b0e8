from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, intpk, utcnow
from server.domain.roles import Role
from server.domain.scope import Scope
from server.models.org import OrgUnit


class User(Base):
    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
    # werkzeug scrypt hash, for Basic auth and the web sign-in.
    password_hash: Mapped[str] = mapped_column(String(255))
    # md5(username:realm:password), which HTTP Digest needs to verify a response without the
    # password. It is password-equivalent for this realm only; see docs in server/auth/digest.py.
    digest_ha1: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # An app user (Central's field key): a phone's identity, signed in by the token in its
    # URL (server/models/central.py AppUserKey), never by a password; lists of people skip it.
    app_user: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Bumped on every password change or deactivation so cached credential verdicts die at once.
    credentials_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    scopes: Mapped[list[UserScope]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def scope_units(self) -> list[OrgUnit]:
        return [s.org_unit for s in self.scopes]

    @property
    def scope(self) -> Scope:
        """Where this user works (server/domain/scope.py)."""
        return Scope.of(self.role, (s.org_unit.path for s in self.scopes))


class UserScope(Base):
    """An org unit a user works in; the user sees that unit and everything under it."""

    __tablename__ = "user_scopes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="scopes")
    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")
