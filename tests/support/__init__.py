"""Test-only helpers (never imported by boxwright): pytest puts tests/ on sys.path (pyproject.toml)."""

from pathlib import Path

__all__ = ["FIXTURES", "ROOT", "TESTS"]

TESTS = Path(__file__).resolve().parents[1]
#: Fixture definitions and golden files (tests/fixtures/).
FIXTURES = TESTS / "fixtures"
#: The project's checkout.
ROOT = TESTS.parent
