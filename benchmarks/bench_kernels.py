"""asv: each kernel of a training step on its own.

Each benchmark runs one kernel for every layer of one training step of the
shape (so ``time_z_forward`` on 784-512-512-10 is the three products
P1 (1) of one forward pass at batch 256), with the arrays in the layouts
the training driver uses (``workloads.KernelWorkload``). The
``peakmem_`` twins report the process's peak resident memory, which is
dominated by the workload's arrays and the compiled code: the kernels
themselves allocate nothing.
"""

from .workloads import DTYPES, SHAPES, KernelWorkload

#: calls per timed sample: the small layers take microseconds, so several
#: calls are timed (individually, asv sums them) to keep timer noise down
NUMBER = {"64-32-10": 100, "784-128-10": 20, "784-512-512-10": 3, "2048-2048-2048-10": 1}

_workloads = {}


def workload(shape, dtype):
    """One :class:`KernelWorkload` per process (asv runs each parameter
    combination in its own process); built, and its JIT warmed, once."""
    key = (shape, dtype)
    if key not in _workloads:
        _workloads.clear()
        sizes, batch = SHAPES[shape]
        _workloads[key] = KernelWorkload(sizes, batch, DTYPES[dtype], warm="tiny")
    return _workloads[key]


class Kernels:
    """Kernels of one training step (relu hidden layers, softmax output,
    categorical cross-entropy, plain SGD), per shape (batch in
    ``workloads.SHAPES``) and dtype."""

    params = (list(SHAPES), list(DTYPES))
    param_names = ["shape", "dtype"]

    def setup(self, shape, dtype):
        self.wl = workload(shape, dtype)
        self.number = NUMBER[shape]

    # P1 (1): z = W a_prev + b, every layer
    def time_z_forward(self, shape, dtype):
        self.wl.run("z_forward")

    def peakmem_z_forward(self, shape, dtype):
        self.wl.run("z_forward")

    # P1 (2): a = g(z), relu hidden layers and the softmax output
    def time_activation_forward(self, shape, dtype):
        self.wl.run("activation_forward")

    def peakmem_activation_forward(self, shape, dtype):
        self.wl.run("activation_forward")

    # J (the fused softmax + categorical cross-entropy losses and their mean)
    # and the fused output delta dJ/dZ[L]
    def time_costs(self, shape, dtype):
        self.wl.run("costs")

    def peakmem_costs(self, shape, dtype):
        self.wl.run("costs")

    # P1 (17) / P2 (2): dJ/dZ of the hidden layers
    def time_dz_backward(self, shape, dtype):
        self.wl.run("dz_backward")

    def peakmem_dz_backward(self, shape, dtype):
        self.wl.run("dz_backward")

    # P1 (13), (14): dJ/dW and dJ/db, every layer (with the layout copies of
    # dz and a_prev where the batch is long enough for the dot-product order)
    def time_dw_db_backward(self, shape, dtype):
        self.wl.run("dw_db_backward")

    def peakmem_dw_db_backward(self, shape, dtype):
        self.wl.run("dw_db_backward")

    # P1 (21): dJ/dA[l-1] for l = L..2 (fit does not need dJ/dX), with the
    # copy of W where the layer is wide enough for the dot-product order
    def time_da_prev_backward(self, shape, dtype):
        self.wl.run("da_prev_backward")

    def peakmem_da_prev_backward(self, shape, dtype):
        self.wl.run("da_prev_backward")

    # the SGD update of every parameter
    def time_update(self, shape, dtype):
        self.wl.run("update")
