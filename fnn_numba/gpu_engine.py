"""The device backend under its former module name: see :mod:`fnn_numba.gpu.backend`."""

from .gpu.backend import (  # noqa: F401
    INSTALL_HINT,
    CudaUnavailableError,
    DeviceNetwork,
    require_cuda,
    unavailable_reason,
)
