"""Layers: the unit of a network.

A :class:`~fnn_numba.Network` is a list of layers, the first an :class:`Input`.
Each layer declares, when the network is built:

* its output shape from its input shape (:meth:`Layer.build`), raising
  ValueError that names the layer when the geometry is impossible;
* the shapes of its parameters (:meth:`Layer.parameter_shapes`), in the order
  they appear in the network's flat parameter vector;
* the equations that run its forward and backward passes
  (:attr:`Layer.forward_equations`, :attr:`Layer.backward_equations`);
* one row of the integer geometry table (:meth:`Layer.geometry_row`) through
  which the jitted drivers of :mod:`fnn_numba.engine` run it.

The drivers take arrays, never layer objects: a layer is a kind code plus
integers (sizes, offsets, kernel geometry), so one compiled driver runs any
stack of layers without compiling again for a new architecture.

Every layer's output, per example, is a vector of ``size`` numbers, stored as
the column of an (n, m) matrix whose last index is the example, as in the
derivation. A layer with a spatial shape (channels, height, width) stores its
maps in C order of (channel, row, column) in that column.
"""
import copy
import numbers

import numpy as np

from . import _validation as V
from .activations import ACTIVATIONS

#: layer kind codes, the values of column ``KIND`` of the geometry table
DENSE = 1

#: columns of the geometry table, one row per layer with l = 1..L
(KIND, ACT, N_IN, N_OUT, W_OFF, W_SIZE, B_OFF, B_SIZE,
 IN_C, IN_H, IN_W, OUT_C, OUT_H, OUT_W, KH, KW, STRIDE, PAD) = range(18)
N_GEOMETRY_COLUMNS = 18


class Layer:
    """The interface every layer implements.

    Attributes set by :meth:`build`: ``input_shape`` and ``output_shape``
    (tuples), ``index`` (l, 1-based, as in the derivation).
    """

    kind = 0
    #: equations of the forward and backward passes, by label
    forward_equations = ()
    backward_equations = ()
    activation = None

    def __init__(self):
        self.input_shape = None
        self.output_shape = None
        self.index = None

    @property
    def name(self):
        label = type(self).__name__
        return label if self.index is None else f"layer {self.index} ({label})"

    @property
    def size(self):
        """Numbers per example in the output: the product of ``output_shape``."""
        return int(np.prod(self.output_shape))

    def build(self, input_shape, index):
        """Fix the input shape, check the geometry, return the output shape."""
        self.input_shape = tuple(int(s) for s in input_shape)
        self.index = index
        self.output_shape = tuple(int(s) for s in self._output_shape(self.input_shape))
        return self.output_shape

    def _output_shape(self, input_shape):
        raise NotImplementedError

    def parameter_shapes(self):
        """[(name, shape), ...] of this layer's parameters, in storage order."""
        return []

    def init_std(self, scheme):
        """Standard deviation of the initial weights under ``scheme``."""
        return 0.0

    def geometry_row(self, w_off, b_off):
        row = np.zeros(N_GEOMETRY_COLUMNS, dtype=np.int64)
        row[KIND] = self.kind
        row[N_IN] = int(np.prod(self.input_shape))
        row[N_OUT] = self.size
        row[W_OFF], row[B_OFF] = w_off, b_off
        return row

    def config(self):
        """A JSON-serialisable description from which :func:`from_config` rebuilds the layer."""
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"


class Input(Layer):
    """The inputs: ``shape`` is an int (features) or (channels, height, width).

    Input data always arrive as (prod(shape), m) columns, examples last.
    """

    def __init__(self, shape):
        super().__init__()
        if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
            shape = (shape,)
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) not in (1, 3) \
                or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in shape):
            raise ValueError(f"Input: shape: expected a positive int or (channels, height, width) "
                             f"of positive ints, got {shape!r}")
        self.shape = tuple(int(s) for s in shape)
        self.output_shape = self.shape
        self.input_shape = self.shape
        self.index = 0

    def _output_shape(self, input_shape):
        return self.shape

    def config(self):
        return {"type": "Input", "shape": list(self.shape)}


class Dense(Layer):
    """A fully connected layer: z = W a_prev + b, a = g(z).

    P1 (1) and (2) forward; P1 (17) (with P2 (8) for softmax), (13), (14)
    and (21) backward. W has shape (units, n_in), b shape (units,). An input
    with a spatial shape is read as its flattened column.
    """

    kind = DENSE
    forward_equations = ("P1 (1)", "P1 (2)")
    backward_equations = ("P1 (17)", "P1 (13)", "P1 (14)", "P1 (21)")

    def __init__(self, units, activation="relu"):
        super().__init__()
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
            raise ValueError(f"Dense: units: expected a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = V.check_choice("activation", activation, ACTIVATIONS)

    def _output_shape(self, input_shape):
        return (self.units,)

    @property
    def n_in(self):
        return int(np.prod(self.input_shape))

    def parameter_shapes(self):
        return [("W", (self.units, self.n_in)), ("b", (self.units,))]

    def init_std(self, scheme):
        from .init import INITIALISERS
        return INITIALISERS[scheme](self.units, self.n_in)

    def geometry_row(self, w_off, b_off):
        row = super().geometry_row(w_off, b_off)
        row[ACT] = ACTIVATIONS[self.activation]
        row[W_SIZE] = self.units * self.n_in
        row[B_SIZE] = self.units
        return row

    def config(self):
        return {"type": "Dense", "units": self.units, "activation": self.activation}


LAYER_TYPES = {"Input": Input, "Dense": Dense}


def from_config(config):
    """The layer a :meth:`Layer.config` dictionary describes."""
    if not isinstance(config, dict) or config.get("type") not in LAYER_TYPES:
        raise ValueError(f"layer config: expected a dict with 'type' in {sorted(LAYER_TYPES)}, got {config!r}")
    args = {k: v for k, v in config.items() if k != "type"}
    if "shape" in args:
        args["shape"] = tuple(args["shape"])
    return LAYER_TYPES[config["type"]](**args)


def dense_stack(sizes, activations):
    """The layers of the shorthand ``Network([n0, ..., nL], activations=[...])``."""
    return [Input(sizes[0])] + [Dense(n, a) for n, a in zip(sizes[1:], activations)]


def build_stack(layers):
    """Check a layer list, build each layer against its predecessor's output,
    and return (input layer, parametrised/computing layers)."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) < 2:
        raise ValueError(f"layers: expected a list [Input(...), layer, ...] with at least one layer "
                         f"after the Input, got {layers!r}")
    layers = list(layers)
    if not isinstance(layers[0], Input):
        raise ValueError(f"layers: the first layer must be an Input, got {layers[0]!r}")
    shape = layers[0].shape
    for l, layer in enumerate(layers[1:], start=1):
        if not isinstance(layer, Layer) or isinstance(layer, Input):
            raise ValueError(f"layers[{l}]: expected a layer such as Dense(...), got {layer!r}")
        # a copy, so that one list of layers can build several networks
        layer = copy.copy(layer)
        shape = layer.build(shape, l)
        layers[l] = layer
    return layers[0], layers[1:]


def parameter_layout(stack):
    """Offsets of each layer's W and b in the flat parameter vector
    [W1, b1, W2, b2, ...], its total length and the geometry table."""
    geom = np.zeros((len(stack), N_GEOMETRY_COLUMNS), dtype=np.int64)
    total = 0
    for i, layer in enumerate(stack):
        shapes = dict(layer.parameter_shapes())
        w_size = int(np.prod(shapes["W"])) if "W" in shapes else 0
        b_size = int(np.prod(shapes["b"])) if "b" in shapes else 0
        geom[i] = layer.geometry_row(total, total + w_size)
        total += w_size + b_size
    return geom, total
