"""Where the tests find the project's own files, wherever a test module sits."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMS_DIR = ROOT / "forms"
FIXTURES_DIR = ROOT / "tests" / "fixtures"
