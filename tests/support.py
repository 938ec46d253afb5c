"""Shared test helpers (importable from any test module: pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
VECTORS = ROOT / "tests" / "vectors"  # copies of shared/providers/vectors: signing test vectors
SPECS = SHARED / "specs"  # the vendors' OpenAPI specs, beside the repository (skipped when absent)
