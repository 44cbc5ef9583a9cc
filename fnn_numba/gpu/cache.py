"""Keep numba-cuda's on-disk cache of the CUDA kernels in step with their sources.

numba-cuda keys a cached kernel on the file the kernel is defined in. The
kernels of this package also inline code from other files: the tile device
functions of :mod:`~fnn_numba.gpu.tiles`, the per-element formulas of
:mod:`fnn_numba.activations` and :mod:`fnn_numba.costs` and the CPU kernels'
workers in :mod:`fnn_numba.kernels`. An edit of any of those alone would let
a process load GPU code compiled from the old source. So, before any kernel
is loaded, :func:`invalidate_stale_cuda_cache` (called by each kernel
module once its kernels are defined) hashes every module whose code
the kernels can reach (this package and the CPU modules with ``@njit`` code)
and, when the hash differs from the one stored beside the cache, deletes this
package's cache entries.
"""

import hashlib
from pathlib import Path

GPU_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = GPU_DIR.parent
STAMP_NAME = "fnn_numba_cuda_sources.sha256"


def cuda_sources_digest(gpu_dir=GPU_DIR, package_dir=PACKAGE_DIR):
    """SHA-256 over this package's modules and the package's ``@njit`` modules."""
    digest = hashlib.sha256()
    paths = sorted(gpu_dir.glob("*.py")) + sorted(
        p for p in package_dir.glob("*.py") if b"@njit" in p.read_bytes()
    )
    for path in paths:
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cuda_cache_dirs(kernels):
    """The directories numba-cuda keeps the cache of ``kernels`` in (as its
    cache locators chose them: ``__pycache__`` beside the sources, a
    directory under ``NUMBA_CACHE_DIR``, or the user-wide one)."""
    dirs = set()
    for kernel in kernels:
        cache = getattr(kernel, "_cache", None)
        path = getattr(cache, "_cache_path", None)
        if path:
            dirs.add(Path(path))
    return sorted(dirs)


def invalidate_stale_cuda_cache(dirs, digest=None):
    """Delete the cached kernels (``*.nbi`` index, ``*.nbc`` data) in each
    directory of ``dirs`` whose stamp is not ``digest`` (by default
    :func:`cuda_sources_digest`), then stamp it. Returns the directories
    cleared. Never fails: a read-only cache keeps numba-cuda's own behaviour.

    Only this package's entries go: in a shared directory (``NUMBA_CACHE_DIR``
    holds one subdirectory per source directory) the entries are named after
    their module, and this package's modules are the ones in :data:`GPU_DIR`."""
    digest = cuda_sources_digest() if digest is None else digest
    ours = {p.stem for p in GPU_DIR.glob("*.py")}
    cleared = []
    for directory in dirs:
        stamp = directory / STAMP_NAME
        try:
            if stamp.exists() and stamp.read_text() == digest:
                continue
            if directory.exists():
                for entry in directory.iterdir():
                    if entry.suffix in (".nbi", ".nbc") and entry.name.split(".")[0] in ours:
                        entry.unlink()
            directory.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest)
            cleared.append(directory)
        except OSError:
            pass
    return cleared
