"""Authentication and access: who is making a request (`http`: HTTP Digest, `digest`, and
Basic, with verified credentials remembered in `cache`; `principal`: a cached snapshot of the
user) and who may fill which form (`form_access`). Where a user works is
server/domain/scope.py."""
