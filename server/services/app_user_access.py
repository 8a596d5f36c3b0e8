"""Cutting a phone off, the two ways Central has (server/services/app_users.py says what an
app user is):

- `revoke_access` (Central's DELETE /v1/sessions/<token>): the key is deleted, the app user
  stays listed with no token, and no submission of the old key is accepted any more;
- `delete_app_user` (DELETE .../app-users/<id>): the same, and the app user is deactivated,
  its form assignments dropped, and it leaves the list.

Both bump the user's credentials version, which the receiver's write checks, so the very next
submission is refused even while a process still caches the app user (server/auth/principal.py).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.domain.app_user_tokens import token_for, token_sha256
from server.domain.problems import not_found
from server.models import AppUserKey, FormAssignment, User
from server.services.app_users import audit, require_manager, within_reach


def token_of(session: Session, app_user: User, secret_key: str) -> str | None:
    """The app user's token, or None once its access was revoked."""
    key = session.get(AppUserKey, app_user.id)
    return token_for(secret_key, key.nonce) if key is not None else None


def app_user_of_token(session: Session, token: str) -> User | None:
    """The app user whose key this token is, or None."""
    if not token or len(token) > 256:
        return None
    key = session.scalar(select(AppUserKey).where(AppUserKey.token_sha256 == token_sha256(token)))
    return key.user if key is not None else None


def _cut_off(session: Session, user: User) -> None:
    session.execute(delete(AppUserKey).where(AppUserKey.user_id == user.id))
    user.credentials_version += 1


def revoke_access(session: Session, actor: User, app_user: User) -> None:
    """Central's "revoke": the key goes, the app user stays listed with no token."""
    require_manager(actor)
    if not within_reach(actor, app_user):
        raise not_found("app_user.not_found", "Could not find the resource you were looking for.")
    _cut_off(session, app_user)
    audit(session, actor, "field_key.session.end", app_user, {})


def delete_app_user(session: Session, actor: User, app_user: User) -> None:
    """Central's delete: the key goes, the app user is deactivated and leaves the list."""
    require_manager(actor)
    if not within_reach(actor, app_user):
        raise not_found("app_user.not_found", "Could not find the resource you were looking for.")
    _cut_off(session, app_user)
    app_user.active = False
    session.execute(delete(FormAssignment).where(FormAssignment.user_id == app_user.id))
    audit(session, actor, "field_key.delete", app_user, {})
