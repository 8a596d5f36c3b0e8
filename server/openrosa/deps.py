"""Per-app objects the OpenRosa handlers share: the blob store and the form cache."""

from __future__ import annotations

from flask import current_app

from server.openrosa.form_cache import FormCache
from server.services.blobs import BlobStore

_BLOBS = "dmip.openrosa.blobs"
_FORMS = "dmip.openrosa.form_cache"


def blob_store() -> BlobStore:
    store = current_app.extensions.get(_BLOBS)
    if store is None:
        from server.app import state

        store = current_app.extensions.setdefault(
            _BLOBS, BlobStore(state().settings.attachments_dir)
        )
    return store


def form_cache() -> FormCache:
    cache = current_app.extensions.get(_FORMS)
    if cache is None:
        cache = current_app.extensions.setdefault(_FORMS, FormCache())
    return cache
