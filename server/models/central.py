"""Tables of ODK Central's REST API (server/central): sign-in sessions, app users' keys and
comments on submissions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, intpk, utcnow
from server.models.users import User


class ApiSession(Base):
    """A bearer token from POST /v1/sessions. Only its SHA-256 is kept: a copy of the table
    signs no one in. It dies at `expires_at`, on sign-out, and when its user's credentials
    change (`credentials_version`: a new password, a deactivation)."""

    __tablename__ = "api_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credentials_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)

    user: Mapped[User] = relationship()


class AppUserKey(Base):
    """The key of an app user (Central's "field key"): the token in its Collect URL,
    /v1/key/<token>/projects/<project>/...

    The app user itself is a `User` row with `app_user` set, so it has a role and areas like
    anyone else, and everything that limits an enumerator limits it. The token is an HMAC of
    `nonce` under the server's secret key: the server can show it again (Central lists it, and
    an admin reprints a QR code), while the table alone, without the secret, yields no token;
    `token_sha256` finds the key from a request. Revoking deletes the row and deactivates the
    user, whose bumped credentials version refuses the next submission at once.
    """

    __tablename__ = "app_user_keys"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(Integer, default=1)
    nonce: Mapped[str] = mapped_column(String(64))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class SubmissionComment(Base):
    """A comment on a submission (Central's /comments): a conversation beside the review
    state, which `SubmissionReview` records."""

    __tablename__ = "submission_comments"

    id: Mapped[intpk]
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
