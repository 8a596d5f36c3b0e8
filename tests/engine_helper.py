"""Fill the shipped forms with the official ODK XForms engine, from Python.

`fill_form` runs tests/engine/fill.mjs under Node (the engine needs `npm ci` in tests/engine
first) and returns the submission XML the engine produced, exactly as ODK Web Forms would
submit it. `write_org_csvs` writes the choice files the server attaches to the forms
(regions.csv, districts.csv, subcounties.csv, parishes.csv) for a few real districts.
"""

from __future__ import annotations

import csv
import functools
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pycountry

from tests.paths import FIXTURES_DIR, FORMS_DIR, ROOT

ENGINE_DIR = ROOT / "tests" / "engine"
ANSWERS_DIR = FIXTURES_DIR / "answers"

# Real districts (ISO 3166-2:UG) from each region, with demo sub-counties and parishes.
DISTRICTS = ["UG-101", "UG-206", "UG-302", "UG-427"]
SUBCOUNTIES_PER_DISTRICT = 2
PARISHES_PER_SUBCOUNTY = 2


class EngineError(RuntimeError):
    """The engine refused the form or the answers; the message is the harness's stderr."""


def engine_unavailable() -> str | None:
    """Why the engine cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ENGINE_DIR / "node_modules" / "@getodk" / "xforms-engine").is_dir():
        return "the ODK engine is not installed: run `npm ci` in tests/engine"
    return None


def org_rows() -> dict[str, list[dict[str, str]]]:
    regions: dict[str, str] = {}
    districts: list[dict[str, str]] = []
    subcounties: list[dict[str, str]] = []
    parishes: list[dict[str, str]] = []
    for code in DISTRICTS:
        district = pycountry.subdivisions.get(code=code)
        assert district is not None, code
        region = pycountry.subdivisions.get(code=district.parent_code)
        assert region is not None, district.parent_code
        regions[region.code] = region.name
        districts.append({"name": code, "label": district.name, "region": region.code})
        for s in range(1, SUBCOUNTIES_PER_DISTRICT + 1):
            sc = f"{code}-S{s:02d}"
            subcounties.append(
                {
                    "name": sc,
                    "label": f"{district.name} sub-county {s}",
                    "region": region.code,
                    "district": code,
                }
            )
            for p in range(1, PARISHES_PER_SUBCOUNTY + 1):
                parishes.append(
                    {
                        "name": f"{sc}-P{p:02d}",
                        "label": f"{district.name} sub-county {s} parish {p}",
                        "region": region.code,
                        "district": code,
                        "subcounty": sc,
                    }
                )
    return {
        "regions.csv": [{"name": c, "label": n} for c, n in sorted(regions.items())],
        "districts.csv": districts,
        "subcounties.csv": subcounties,
        "parishes.csv": parishes,
    }


def write_org_csvs(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for filename, rows in org_rows().items():
        with (directory / filename).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return directory


def compile_form(xlsx: Path) -> tuple[str, list[str]]:
    """XForm XML and pyxform's warnings for one XLSForm."""
    from pyxform.xls2xform import convert

    result = convert(xlsform=str(xlsx))
    return result.xform, list(result.warnings)


def load_answers(form_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ANSWERS_DIR / f"{form_id}.json").read_text("utf-8"))
    return data


def fill_form(
    xform_path: Path,
    media_dir: Path,
    answers: dict[str, Any],
    attachments_dir: Path | None = None,
) -> bytes:
    """The engine's own submission XML for `answers` (question name -> value, repeats as lists
    of objects, an image question -> absolute path of a file). With `attachments_dir`, the
    engine's attachment files are written there under the names the XML uses. Raises
    EngineError when the engine rejects the form or an answer, or when required answers are
    missing."""
    reason = engine_unavailable()
    if reason:
        raise EngineError(reason)
    with tempfile.TemporaryDirectory() as tmp:
        answers_path = Path(tmp) / "answers.json"
        answers_path.write_text(json.dumps(answers), encoding="utf-8")
        proc = subprocess.run(
            [
                "node",
                str(ENGINE_DIR / "fill.mjs"),
                str(xform_path),
                str(media_dir),
                str(answers_path),
                *([str(attachments_dir)] if attachments_dir is not None else []),
            ],
            cwd=ENGINE_DIR,
            capture_output=True,
            check=False,
        )
    if proc.returncode != 0:
        raise EngineError(proc.stderr.decode("utf-8", "replace").strip() or "engine failed")
    return proc.stdout


@functools.cache
def compiled_forms() -> dict[str, tuple[Path, str, tuple[str, ...]]]:
    """Every shipped form compiled once per test session: form_id -> (xlsx, XForm, warnings).
    The form_id is the .xlsx file name, which the forms tests check against settings."""
    out: dict[str, tuple[Path, str, tuple[str, ...]]] = {}
    for xlsx in sorted(FORMS_DIR.glob("*.xlsx")):
        xform, warnings = compile_form(xlsx)
        out[xlsx.stem] = (xlsx, xform, tuple(warnings))
    return out
