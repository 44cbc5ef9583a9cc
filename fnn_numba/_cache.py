"""Keep Numba's on-disk cache consistent with the package's sources.

Numba invalidates a cached function only when its own source file changes,
not when a function it inlines from another module does (a kernel in
kernels.py inlines formulas from activations.py and costs.py; the drivers in
engine.py call the kernels). After an upgrade or an edit, a stale cache entry
can call a kernel with a signature that no longer exists and crash the
process. So: hash every module of the package that holds cached CPU kernels
(``@njit``) at import, and when the hash differs from the one stored beside
the cache, delete the package's cache entries before anything is compiled or
loaded.
"""

import hashlib
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
STAMP_NAME = "fnn_numba_sources.sha256"


def _cache_dirs():
    dirs = [PACKAGE_DIR / "__pycache__"]
    custom = os.environ.get("NUMBA_CACHE_DIR")
    if custom:
        dirs.append(Path(custom))
    return dirs


def sources_digest():
    """SHA-256 over every module of the package that holds CPU-jitted (cached) code."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        source = path.read_bytes()
        if b"@njit" in source:
            digest.update(path.name.encode())
            digest.update(source)
    return digest.hexdigest()


def invalidate_stale_cache():
    """Remove cached kernels compiled from other sources than these. Never fails:
    a read-only installation simply keeps Numba's own behaviour."""
    current = sources_digest()
    for directory in _cache_dirs():
        stamp = directory / STAMP_NAME
        try:
            if stamp.exists() and stamp.read_text() == current:
                continue
            if directory.exists():
                for entry in directory.rglob("*"):
                    if entry.suffix in (".nbi", ".nbc") and (
                        "fnn_numba" in str(entry) or entry.parent == PACKAGE_DIR / "__pycache__"
                    ):
                        entry.unlink()
            directory.mkdir(parents=True, exist_ok=True)
            stamp.write_text(current)
        except OSError:
            pass
