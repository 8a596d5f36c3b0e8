"""The browser side: server-rendered pages for coordinators and admins.

Blueprints: `auth` (sign in/out, password), `home` (dashboard), `admin` (users, org units,
Collect QR codes), `app_users_admin` (app users: phones signed in by a key, with their QR
codes, forms and revocation), `forms_admin` (XLSForm upload, drafts, versions, media,
closing). Shared
pieces: `permissions` (login, roles and scope checks for every route), `sessions` (the signed
session cookie), `errors` (HTML error pages, which server/app.py dispatches to). Failed
sign-ins are limited in server/auth/guessing.py, for every way in.

CSRF: every unsafe request is checked except on the OpenRosa endpoints and /api/ (Collect and
API clients authenticate each request with Basic/Digest and carry no session form).
"""
