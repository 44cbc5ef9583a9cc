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
CONV2D = 2
MAXPOOL2D = 3
AVGPOOL2D = 4
SUBSAMPLE2D = 5
FLATTEN = 6
DROPOUT = 7
#: kinds whose output is their forward equation's value, with no activation
#: after it (no Z of their own; dJ/dZ is dJ/dA)
NO_ACTIVATION_KINDS = (MAXPOOL2D, AVGPOOL2D, FLATTEN, DROPOUT)

#: columns of the geometry table, one row per layer with l = 1..L
(
    KIND,
    ACT,
    N_IN,
    N_OUT,
    W_OFF,
    W_SIZE,
    B_OFF,
    B_SIZE,
    IN_C,
    IN_H,
    IN_W,
    OUT_C,
    OUT_H,
    OUT_W,
    KH,
    KW,
    STRIDE,
    PAD,
) = range(18)
N_GEOMETRY_COLUMNS = 18
#: columns of the float table of per-layer hyper-parameters (Dropout's rate)
RATE = 0
N_HYPER_COLUMNS = 1


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

    def hyper_row(self):
        """This layer's row of the float table (:func:`hyper_table`)."""
        return np.zeros(N_HYPER_COLUMNS, dtype=np.float64)

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
        if (
            isinstance(shape, (str, bytes))
            or not hasattr(shape, "__len__")
            or len(shape) not in (1, 3)
            or any(
                isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in shape
            )
        ):
            raise ValueError(
                f"Input: shape: expected a positive int or (channels, height, width) "
                f"of positive ints, got {shape!r}"
            )
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


def _positive_int(owner, name, value, allow_zero=False):
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        what = "a non-negative integer" if allow_zero else "a positive integer"
        raise ValueError(f"{owner}: {name}: expected {what}, got {value!r}")
    return int(value)


def _pair(owner, name, value):
    """An int or a pair of ints (rows, columns), as a tuple of two positive ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(
            f"{owner}: {name}: expected a positive int or a pair of them, got {value!r}"
        )
    return tuple(_positive_int(owner, name, v) for v in value)


class _Spatial(Layer):
    """A layer whose input is a stack of maps (channels, height, width)."""

    def _maps(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"{self.name}: expected an input of maps (channels, height, width), "
                f"got shape {input_shape} (a Dense or Flatten output has no maps; "
                f"put this layer before them)"
            )
        return input_shape

    def geometry_row(self, w_off, b_off):
        row = super().geometry_row(w_off, b_off)
        row[IN_C], row[IN_H], row[IN_W] = self.input_shape
        row[OUT_C], row[OUT_H], row[OUT_W] = self.output_shape
        return row


class Conv2D(_Spatial):
    """A convolutional layer: z[f,x,y,i] = sum_{c,u,v} w[f,c,u,v] a[c, x s + u - p, y s + v - p, i] + b[f],
    then a = g(z).

    The notes-neural-networks forward sum (section "Convolutional Neural
    Networks (CNN)", "Clearer deduction"): ``filters`` feature maps, each
    sharing one kernel of ``kernel_size`` (an int or (rows, columns)) over
    every position, moved by ``stride`` over the input zero-padded by
    ``padding`` on each side: a cross-correlation, as PyTorch's ``Conv2d``.
    W has shape (filters, in_channels, kh, kw), b shape (filters,).
    Equations CNN (1) forward; CNN (2), (3), (4) backward
    (:mod:`fnn_numba.conv_kernels`).
    """

    kind = CONV2D
    forward_equations = ("CNN (1)", "P1 (2)")
    backward_equations = ("P1 (17)", "CNN (2)", "CNN (3)", "CNN (4)")

    def __init__(self, filters, kernel_size, stride=1, padding=0, activation="relu"):
        super().__init__()
        self.filters = _positive_int("Conv2D", "filters", filters)
        self.kernel_size = _pair("Conv2D", "kernel_size", kernel_size)
        self.stride = _positive_int("Conv2D", "stride", stride)
        self.padding = _positive_int("Conv2D", "padding", padding, allow_zero=True)
        self.activation = V.check_choice("activation", activation, ACTIVATIONS)
        if self.activation == "softmax":
            raise ValueError(
                "Conv2D: activation: softmax reads a whole column; use it on a Dense "
                "output layer, not on maps"
            )

    def _output_shape(self, input_shape):
        C, H, W = self._maps(input_shape)
        kh, kw = self.kernel_size
        p, s = self.padding, self.stride
        if kh > H + 2 * p or kw > W + 2 * p:
            raise ValueError(
                f"{self.name}: kernel {kh}x{kw} is larger than its input {H}x{W} "
                f"padded by {p} on each side ({H + 2 * p}x{W + 2 * p})"
            )
        return (self.filters, (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1)

    def parameter_shapes(self):
        return [
            ("W", (self.filters, self.input_shape[0]) + self.kernel_size),
            ("b", (self.filters,)),
        ]

    def fans(self):
        """(fan-out, fan-in) of a weight: (filters kh kw, in_channels kh kw), as PyTorch counts them."""
        area = self.kernel_size[0] * self.kernel_size[1]
        return self.filters * area, self.input_shape[0] * area

    def init_std(self, scheme):
        from .init import INITIALISERS

        return INITIALISERS[scheme](*self.fans())

    def geometry_row(self, w_off, b_off):
        row = super().geometry_row(w_off, b_off)
        row[ACT] = ACTIVATIONS[self.activation]
        row[W_SIZE] = int(np.prod(self.parameter_shapes()[0][1]))
        row[B_SIZE] = self.filters
        row[KH], row[KW] = self.kernel_size
        row[STRIDE], row[PAD] = self.stride, self.padding
        return row

    def config(self):
        return {
            "type": "Conv2D",
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "stride": self.stride,
            "padding": self.padding,
            "activation": self.activation,
        }


class _Pool(_Spatial):
    """Pooling over non-overlapping pool_size windows (stride = window); a
    remainder row or column that fills no window is dropped, as in PyTorch."""

    def __init__(self, pool_size):
        super().__init__()
        self.pool_size = _pair(type(self).__name__, "pool_size", pool_size)

    def _output_shape(self, input_shape):
        C, H, W = self._maps(input_shape)
        P, Q = self.pool_size
        if P > H or Q > W:
            raise ValueError(
                f"{self.name}: pool window {P}x{Q} is larger than its input map {H}x{W}"
            )
        return (C, H // P, W // Q)

    def geometry_row(self, w_off, b_off):
        row = super().geometry_row(w_off, b_off)
        row[KH], row[KW] = self.pool_size
        row[STRIDE] = self.pool_size[0]
        return row

    def config(self):
        return {"type": type(self).__name__, "pool_size": list(self.pool_size)}


class MaxPool2D(_Pool):
    """Maximum pooling (notes-neural-networks, "Pooling / subsampling hidden
    units"): a[c,x,y,i] = max over the window; the gradient goes to the first
    maximum of each window in row-major order. POOL (1), (2)."""

    kind = MAXPOOL2D
    forward_equations = ("POOL (1)",)
    backward_equations = ("POOL (2)",)


class AvgPool2D(_Pool):
    """Average pooling (notes-neural-networks, "Pooling / subsampling hidden
    units"): a[c,x,y,i] = the mean of the window. POOL (3), (4)."""

    kind = AVGPOOL2D
    forward_equations = ("POOL (3)",)
    backward_equations = ("POOL (4)",)


class Subsample2D(_Pool):
    """The notes' "average pooling with learnable weights for each filter map":
    z[c,x,y,i] = beta[c] mean(window) + b[c], a = g(z). beta is stored as the
    layer's "W" (shape (channels,), starts at 1, takes the L2 term like a
    weight) and b as its "b" (starts at 0). SUB (1)-(4)."""

    kind = SUBSAMPLE2D
    forward_equations = ("SUB (1)", "P1 (2)")
    backward_equations = ("P1 (17)", "SUB (2)", "SUB (3)", "SUB (4)")
    #: beta starts at 1: the layer starts as plain average pooling
    initial_weight = 1.0

    def __init__(self, pool_size, activation="identity"):
        super().__init__(pool_size)
        self.activation = V.check_choice("activation", activation, ACTIVATIONS)
        if self.activation == "softmax":
            raise ValueError(
                "Subsample2D: activation: softmax reads a whole column; use it on a "
                "Dense output layer, not on maps"
            )

    def parameter_shapes(self):
        C = self.input_shape[0]
        return [("W", (C,)), ("b", (C,))]

    def geometry_row(self, w_off, b_off):
        row = super().geometry_row(w_off, b_off)
        row[ACT] = ACTIVATIONS[self.activation]
        row[W_SIZE] = row[B_SIZE] = self.input_shape[0]
        return row

    def config(self):
        return {
            "type": "Subsample2D",
            "pool_size": list(self.pool_size),
            "activation": self.activation,
        }


class Flatten(Layer):
    """(channels, height, width) maps to one column per example in C order of
    (channel, row, column), the order of PyTorch's ``nn.Flatten`` on
    (N, C, H, W). The maps are stored in that order already: the forward and
    backward passes copy the column unchanged."""

    kind = FLATTEN
    forward_equations = ("FLATTEN",)
    backward_equations = ("FLATTEN",)

    def _output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def config(self):
        return {"type": "Flatten"}


class Dropout(Layer):
    """Inverted dropout: in training, a[j,i] = a_prev[j,i] mask[j,i] with
    mask[j,i] = I(u >= rate) / (1 - rate), u uniform in [0, 1); at prediction
    (and in ``Network.gradients``) a = a_prev. The masks come from a key that
    ``fit`` draws from the network's seeded generator, so a seeded fit is
    reproducible, and are the same for every thread count. DROP (1), (2)."""

    kind = DROPOUT
    forward_equations = ("DROP (1)",)
    backward_equations = ("DROP (2)",)

    def __init__(self, rate):
        super().__init__()
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate: expected a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def _output_shape(self, input_shape):
        return input_shape

    def geometry_row(self, w_off, b_off):
        row = super().geometry_row(w_off, b_off)
        if len(self.input_shape) == 3:
            row[IN_C], row[IN_H], row[IN_W] = self.input_shape
            row[OUT_C], row[OUT_H], row[OUT_W] = self.output_shape
        return row

    def hyper_row(self):
        row = super().hyper_row()
        row[RATE] = self.rate
        return row

    def config(self):
        return {"type": "Dropout", "rate": self.rate}


LAYER_TYPES = {
    "Input": Input,
    "Dense": Dense,
    "Conv2D": Conv2D,
    "MaxPool2D": MaxPool2D,
    "AvgPool2D": AvgPool2D,
    "Subsample2D": Subsample2D,
    "Flatten": Flatten,
    "Dropout": Dropout,
}


def from_config(config):
    """The layer a :meth:`Layer.config` dictionary describes."""
    if not isinstance(config, dict) or config.get("type") not in LAYER_TYPES:
        raise ValueError(
            f"layer config: expected a dict with 'type' in {sorted(LAYER_TYPES)}, got {config!r}"
        )
    args = {k: v for k, v in config.items() if k != "type"}
    for key in ("shape", "kernel_size", "pool_size"):
        if isinstance(args.get(key), list):
            args[key] = tuple(args[key])
    return LAYER_TYPES[config["type"]](**args)


def dense_stack(sizes, activations):
    """The layers of the shorthand ``Network([n0, ..., nL], activations=[...])``."""
    return [Input(sizes[0])] + [Dense(n, a) for n, a in zip(sizes[1:], activations)]


def build_stack(layers):
    """Check a layer list, build each layer against its predecessor's output,
    and return (input layer, parametrised/computing layers)."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) < 2:
        raise ValueError(
            f"layers: expected a list [Input(...), layer, ...] with at least one layer "
            f"after the Input, got {layers!r}"
        )
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


def hyper_table(stack):
    """The float table of per-layer hyper-parameters, one row per layer
    l = 1..L (column RATE: Dropout's rate; 0 elsewhere)."""
    table = np.zeros((len(stack), N_HYPER_COLUMNS), dtype=np.float64)
    for i, layer in enumerate(stack):
        table[i] = layer.hyper_row()
    return table


#: the command line's layer syntax (:func:`parse_layers`)
LAYER_SYNTAX = (
    "convFxK[sS][pP] (F filters of KxK, stride S, padding P; relu), maxpoolP, avgpoolP, "
    "subsampleP, flatten, dropoutR (R the rate, e.g. dropout0.25)"
)


def parse_layers(spec, n_inputs, input_shape=None):
    """The layers of a comma-separated ``spec`` such as
    ``"conv8x3p1,maxpool2,conv16x3,flatten"``, after an Input of
    ``input_shape`` (C, H, W); without one, ``n_inputs`` features must be a
    square number of pixels of one channel (64: 1x8x8, 784: 1x28x28).
    Returns [Input, layer, ...]. Syntax: :data:`LAYER_SYNTAX`."""
    import re

    if input_shape is None:
        side = int(round(np.sqrt(n_inputs)))
        if side * side != n_inputs:
            raise ValueError(
                f"input shape: {n_inputs} features are not a square image of one "
                f"channel; give the shape as C,H,W"
            )
        input_shape = (1, side, side)
    if int(np.prod(input_shape)) != n_inputs:
        raise ValueError(
            f"input shape: {input_shape} holds {int(np.prod(input_shape))} values, "
            f"the data have {n_inputs} features"
        )
    out = [Input(tuple(input_shape))]
    patterns = [
        (
            r"conv(\d+)x(\d+)(?:s(\d+))?(?:p(\d+))?",
            lambda g: Conv2D(int(g[0]), int(g[1]), stride=int(g[2] or 1), padding=int(g[3] or 0)),
        ),
        (r"maxpool(\d+)", lambda g: MaxPool2D(int(g[0]))),
        (r"avgpool(\d+)", lambda g: AvgPool2D(int(g[0]))),
        (r"subsample(\d+)", lambda g: Subsample2D(int(g[0]))),
        (r"flatten", lambda g: Flatten()),
        (r"dropout(0?\.\d+|0)", lambda g: Dropout(float(g[0]))),
    ]
    for token in (t.strip().lower() for t in str(spec).split(",")):
        for pattern, make in patterns:
            match = re.fullmatch(pattern, token)
            if match:
                out.append(make(match.groups()))
                break
        else:
            raise ValueError(f"layers: cannot read {token!r}; expected {LAYER_SYNTAX}")
    return out
