"""The indicator catalog as the aggregation code uses it: checked against the published forms,
compiled to SQL per form version, and cached per process.

Only indicators of published forms are kept, so a deployment (or a test) that publishes some of
the DMIP forms still aggregates those. The cache is keyed by the catalog file's bytes and the
published versions, so publishing a form or editing the catalog takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.aggregation.queries import ContributionQuery, contribution_query
from server.domain.catalog import Catalog, CatalogError, parse_catalog
from server.models import Form, FormVersion

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "forms" / "catalog.yaml"

_lock = threading.Lock()
_catalogs: dict[tuple[str, tuple[tuple[str, int], ...]], Catalog] = {}
_queries: dict[tuple[str, int, str], ContributionQuery] = {}
_configured: Path | None = None


def configure(catalog_path: Path | None) -> None:
    """Use this catalog file in this process (the app factory and the worker call it with
    DMIP_FORMS_DIR/catalog.yaml)."""
    global _configured
    _configured = catalog_path


def catalog_path() -> Path:
    if _configured is not None:
        return _configured
    forms_dir = os.environ.get("DMIP_FORMS_DIR")
    return Path(forms_dir) / "catalog.yaml" if forms_dir else DEFAULT_CATALOG


@dataclass(frozen=True)
class LoadedCatalog:
    catalog: Catalog
    fingerprint: str  # sha256 of the catalog file's bytes and the published versions


def published_versions(session: Session) -> tuple[tuple[str, int], ...]:
    """(xml_form_id, current version id) of every form with a current version, sorted."""
    rows = session.execute(
        select(Form.xml_form_id, Form.current_version_id).where(
            Form.current_version_id.is_not(None)
        )
    ).all()
    return tuple(sorted((form_id, version_id) for form_id, version_id in rows))


def published_fields(
    session: Session, versions: Sequence[tuple[str, int]]
) -> dict[str, list[dict[str, Any]]]:
    """{xml_form_id: field list} of these form versions."""
    forms = dict(versions)
    rows = session.execute(
        select(FormVersion.id, FormVersion.schema).where(FormVersion.id.in_(forms.values()))
    ).all()
    fields = {version_id: list(schema or []) for version_id, schema in rows}
    return {form_id: fields.get(version_id, []) for form_id, version_id in forms.items()}


def load(session: Session, path: Path | None = None) -> LoadedCatalog:
    path = path or catalog_path()
    data = path.read_bytes()
    # The versions alone, and their field lists only when the cache misses: every batch the
    # worker records loads the catalog, and the DMIP forms' field lists are long JSON
    # documents that had to be fetched and decoded each time. A version's fields never
    # change (form versions are immutable), so its id stands for them.
    versions = published_versions(session)
    digest = hashlib.sha256(data + repr(versions).encode()).hexdigest()
    key = (digest, versions)
    with _lock:
        cached = _catalogs.get(key)
    if cached is None:
        cached = parse_published(yaml.safe_load(data), published_fields(session, versions))
        with _lock:
            _catalogs[key] = cached
    return LoadedCatalog(cached, digest)


def parse_published(data: Any, forms: Mapping[str, Sequence[Mapping[str, Any]]]) -> Catalog:
    """parse_catalog, keeping only the indicators and derived values of published forms."""
    if not isinstance(data, Mapping):
        raise CatalogError(["the catalog must be a mapping with an 'indicators' list"])
    kept = dict(data)
    kept["derived"] = [
        d for d in data.get("derived") or [] if isinstance(d, Mapping) and d.get("form") in forms
    ]
    kept["indicators"] = [
        i for i in data.get("indicators") or [] if isinstance(i, Mapping) and i.get("form") in forms
    ]
    if not kept["indicators"]:
        return Catalog({}, {})
    return parse_catalog(kept, forms)


def cached_query(loaded: LoadedCatalog, version_id: int, dialect: str) -> ContributionQuery | None:
    """The contribution query of this form version if `query_for` made it already."""
    with _lock:
        return _queries.get((loaded.fingerprint, version_id, dialect))


def query_for(
    loaded: LoadedCatalog,
    form_id: str,
    version_id: int,
    fields: Sequence[Mapping[str, Any]],
    dialect: str,
) -> ContributionQuery:
    key = (loaded.fingerprint, version_id, dialect)
    with _lock:
        cached = _queries.get(key)
    if cached is None:
        cached = contribution_query(loaded.catalog, form_id, version_id, fields, dialect)
        with _lock:
            _queries[key] = cached
    return cached
