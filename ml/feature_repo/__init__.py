"""The Feast repository (`feast -c ml/feature_repo …`); its version is importable without Feast."""

import hashlib
from pathlib import Path

REPO = Path(__file__).resolve().parent


def definitions_version() -> str:
    """A hash of the repository files: ``feast apply`` runs when it changes."""
    digest = hashlib.sha256()
    for path in sorted(REPO.glob("*")):
        if path.suffix in {".py", ".yaml"}:
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]
