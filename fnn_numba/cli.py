"""The ``fnn-numba`` command line (also ``python -m fnn_numba``).

Commands: ``train`` (a network on a bundled data set or a user file),
``predict`` (a saved model on new data), ``info`` (a saved model's layers and
parameter counts), ``crosscheck`` (every equation four ways) and ``gan`` (a
generative adversarial network on ring8, gaussian or digits). Bad arguments, missing or
malformed files get one line on stderr and exit status 2, never a traceback.
"""

import argparse
import inspect
import math
import os
import sys
import time

import numpy as np

#: the subcommands whose arguments live in their own modules, imported only
#: when the subcommand is asked for (they may pull in heavier dependencies).
DELEGATED = {
    "crosscheck": (
        "fnn_numba.verify",
        "compare every fast kernel with the index-level reference and the vectorised forms",
    ),
    "gan": ("fnn_numba.gan", "train a generative adversarial network on ring8, gaussian or digits"),
}
#: --epochs, --batch-size and --learning-rate when not given: the values
#: under None for a user's data, with overrides for the bundled data sets on
#: which those end at a poor test score. iris has 112 training examples, so
#: 30 epochs of batches of 32 are 120 steps, which end while the network
#: still swings between versicolor and virginica (0.66 test accuracy for
#: seed 0, 0.92 one epoch before); 100 epochs settle at 0.89-1.0 over seeds
#: 0-9. diabetes regresses unscaled targets 25..346, whose squared-error
#: gradients dwarf those of class probabilities: at 0.1 the network stays at
#: the targets' mean (test RMSE 72-82, their standard deviation), at 0.001
#: it reaches 50-58, the RMSE of a least-squares linear fit.
TRAINING_DEFAULTS = {
    None: dict(epochs=30, batch_size=32, learning_rate=0.1),
    "iris": dict(epochs=100),
    "diabetes": dict(learning_rate=0.001),
}
#: fit keywords the command line passes only when the user gives them, so
#: that the defaults stay those of Network.fit.
OPTIONAL_FIT_ARGS = (
    "optimizer",
    "momentum",
    "beta1",
    "beta2",
    "epsilon",
    "lr_schedule",
    "power_t",
    "step_size",
    "gamma",
    "clip_norm",
    "validation_fraction",
    "early_stopping",
    "patience",
    "min_delta",
    "progress",
)


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit code 2, never a traceback."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class CommandError(Exception):
    """A bad argument found after parsing; ``main`` prints it on one line and
    exits with status 2."""


# ------------------------------------------------------------ value checks
def _int_at_least(low, kind):
    """An argparse type: an integer >= ``low``, described as ``kind`` in errors."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "positive")
_non_negative_int = _int_at_least(0, "non-negative")


def _real(low, high=math.inf, low_open=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        inside = (value > low if low_open else value >= low) and value < high
        if not inside:
            interval = f"{'(' if low_open else '['}{low}, {high})"
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, got {text!r}")
        return value

    return parse


def _column(text):
    """--target-column: an index, or a header name."""
    try:
        return int(text)
    except ValueError:
        return text


# -------------------------------------------------------------------- data
def _data_kind(path):
    lower = os.fspath(path).lower()
    if lower.endswith(".npz"):
        return "npz"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "idx"


def _read_table(args, path, option):
    """X, y from a .npz or .csv file named by ``option``; y is None when
    ``--y-key`` / ``--target-column`` is None."""
    from . import datasets

    kind = _data_kind(path)
    if kind == "npz":
        return datasets.load_npz(
            path,
            x_key=args.x_key,
            y_key=args.y_key,
            samples_by_features=not args.columns_are_examples,
            dtype=args.np_dtype,
        )
    if kind == "csv":
        delimiter = args.delimiter or ("\t" if path.lower().endswith(".tsv") else ",")
        return datasets.load_csv(
            path, target_column=args.target_column, delimiter=delimiter, dtype=args.np_dtype
        )
    raise CommandError(
        f"{option}: expected a .npz or .csv file (IDX files go with --images and "
        f"--labels), got {path}"
    )


def _training_data(args):
    """(name, X_train, y_train, X_test, y_test, n_classes or None)."""
    from . import datasets

    if args.dataset_pos and args.dataset and args.dataset_pos != args.dataset:
        raise CommandError(
            f"dataset: given twice, as {args.dataset_pos!r} and --dataset {args.dataset!r}"
        )
    bundled = args.dataset_pos or args.dataset
    files = args.data or args.images or args.labels
    if bundled and files:
        raise CommandError("--data/--images: give either a bundled data set or a file, not both")
    if args.data and (args.images or args.labels):
        raise CommandError("--data: give either --data or --images/--labels, not both")
    if bool(args.images) != bool(args.labels):
        raise CommandError("--images/--labels: IDX data need both files")
    if bool(args.test_images) != bool(args.test_labels):
        raise CommandError("--test-images/--test-labels: IDX test data need both files")
    if not files and (args.test_data or args.test_images):
        raise CommandError("--test-data/--test-images: only with --data or --images")
    if not files:
        name = bundled or "digits"
        Xtr, ytr, Xte, yte, n_classes = datasets.load(
            name, test_fraction=args.test_fraction, seed=args.seed, dtype=args.np_dtype
        )
        return name, Xtr, ytr, Xte, yte, n_classes
    if args.data:
        name = os.path.basename(args.data)
        X, y = _read_table(args, args.data, "--data")
    else:
        name = os.path.basename(args.images)
        X, y = datasets.load_idx_pair(args.images, args.labels, dtype=args.np_dtype)
    if args.test_data:
        Xte, yte = _read_table(args, args.test_data, "--test-data")
        Xtr, ytr = X, y
    elif args.test_images:
        Xte, yte = datasets.load_idx_pair(args.test_images, args.test_labels, dtype=args.np_dtype)
        Xtr, ytr = X, y
    else:
        Xtr, ytr, Xte, yte = datasets.split(X, y, args.test_fraction, args.seed)
    if Xte.shape[0] != Xtr.shape[0]:
        raise CommandError(
            f"--test-data: the test examples have {Xte.shape[0]} features, the "
            f"training examples {Xtr.shape[0]}"
        )
    n_classes = None
    if ytr.ndim == 1 and np.issubdtype(ytr.dtype, np.integer):
        labels = np.concatenate([ytr, yte]) if yte is not None else ytr
        if labels.min() < 0:
            raise CommandError(
                f"data: class labels must be non-negative integers, got {labels.min()}"
            )
        n_classes = int(labels.max()) + 1
    return name, Xtr, ytr, Xte, yte, n_classes


def _check_output_path(path, option="--output"):
    """Refuse, before any work, an output path whose file cannot be created:
    a missing or read-only directory, or an existing directory as the path.
    Training first and failing at the save would lose the trained model."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CommandError(f"{option}: expected a file path, got the directory {path}")
    if not os.path.isdir(directory):
        raise CommandError(
            f"{option}: cannot write {path}: the directory {directory} does not exist"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CommandError(
            f"{option}: cannot write {path}: the directory {directory} is not writable"
        )


# ------------------------------------------------------------------ models
def _resolve_cost(requested, y):
    from .costs import COST_ALIASES

    if requested == "auto":
        return (
            "categorical_cross_entropy"
            if y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
            else "squared_error"
        )
    return COST_ALIASES.get(requested, requested)


def _targets(cost, y, n_classes, dtype):
    """(n_outputs, a function mapping y to what fit takes) for ``cost``.

    Class labels feed categorical cross-entropy as they are; binary
    cross-entropy takes them as a single 0/1 output for two classes and as
    one-hot columns otherwise. Squared error regresses the target values.
    """
    from ._encoding import one_hot

    labels = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
    if cost == "squared_error":
        n_out = 1 if y.ndim == 1 else y.shape[0]
        return n_out, lambda t: np.asarray(t, dtype=dtype).reshape(n_out, -1)
    if not labels:
        if y.ndim == 1:
            raise CommandError(
                f"--cost: {cost} needs integer class labels or a target matrix in "
                f"[0, 1]; these targets are real values (use --cost squared_error)"
            )
        return y.shape[0], lambda t: t
    if cost == "binary_cross_entropy" and n_classes <= 2:
        return 1, lambda t: t
    if cost == "binary_cross_entropy":
        return n_classes, lambda t: one_hot(t, n_classes, dtype)
    return n_classes, lambda t: t


def _score(net, X, y):
    """("accuracy", fraction correct) for the cross-entropies, ("RMSE",
    root mean squared error over all outputs) for squared error."""
    Y_hat = net.forward(X)
    if net.cost_name == "squared_error":
        target = np.asarray(y, dtype=np.float64).reshape(Y_hat.shape)
        return "RMSE", float(np.sqrt(np.mean((Y_hat - target) ** 2)))
    if y.ndim == 1:
        predicted = np.argmax(Y_hat, axis=0) if Y_hat.shape[0] > 1 else (Y_hat[0] > 0.5)
        return "accuracy", float(np.mean(predicted == y))
    if Y_hat.shape[0] > 1:
        return "accuracy", float(np.mean(np.argmax(Y_hat, axis=0) == np.argmax(y, axis=0)))
    return "accuracy", float(np.mean((Y_hat > 0.5) == (y > 0.5)))


def _activations(args, n_hidden):
    given = args.activation
    if given is None:
        return ["relu"] * n_hidden + [None]
    if len(given) == 1 and n_hidden:
        return given * n_hidden + [None]
    if len(given) == n_hidden:
        return list(given) + [None]
    if len(given) == n_hidden + 1:
        return list(given)
    raise CommandError(
        f"--activation: expected 1, {n_hidden} (one per hidden layer) or {n_hidden + 1} "
        f"(and the output layer's) names for {n_hidden} hidden layers, got {len(given)}"
    )


def _accepts(func, name):
    params = inspect.signature(func).parameters
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _plural(count, noun):
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _CompileTally:
    """Functions compiled and seconds spent compiling, counted by
    :func:`_compile_watch`. Compiling a function compiles its callees inside
    its own event, so only the outermost events' durations add up."""

    def __init__(self):
        self.compiled = 0
        self.seconds = 0.0
        #: CUDA kernels compiled (included in ``compiled``; their time is not
        #: measured, numba-cuda fires no compile event for them)
        self.cuda_compiled = 0
        self._depth = 0
        self._started = 0.0

    def start(self):
        self.compiled += 1
        if self._depth == 0:
            self._started = time.perf_counter()
        self._depth += 1

    def end(self):
        self._depth -= 1
        if self._depth == 0:
            self.seconds += time.perf_counter() - self._started


def _cuda_compiles():
    """CUDA kernels compiled so far by the package's loaded modules: the sum
    of their dispatchers' cache misses (a miss is a compilation; a kernel
    loaded from the on-disk cache counts as a hit). 0 when the CUDA backend
    was never imported."""
    dispatcher = sys.modules.get("numba.cuda.dispatcher")
    if dispatcher is None:
        return 0
    total = 0
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != __package__ or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, dispatcher.CUDADispatcher):
                total += sum(value.stats.cache_misses.values())
    return total


def _compile_watch():
    """A context manager whose value (a _CompileTally) counts the functions
    Numba compiles inside it and the seconds spent compiling the CPU ones.

    CPU functions: Numba's "numba:compile" events, which fire only when a
    function is really compiled, never when its machine code is loaded from
    the on-disk cache (``cache=True``) or reused in the same process. CUDA
    kernels fire no such event; their dispatchers' cache misses are counted
    instead.
    """
    import contextlib

    from numba.core import event

    class Forward(event.Listener):
        def __init__(self, tally):
            self.tally = tally

        def on_start(self, ev):
            self.tally.start()

        def on_end(self, ev):
            self.tally.end()

    @contextlib.contextmanager
    def watching():
        tally = _CompileTally()
        cuda_before = _cuda_compiles()
        with event.install_listener("numba:compile", Forward(tally)):
            try:
                yield tally
            finally:
                tally.cuda_compiled = _cuda_compiles() - cuda_before
                tally.compiled += tally.cuda_compiled

    return watching()


def _timing(epochs_run, seconds, watch):
    """The "after N epochs in T s (...)" phrase, saying whether T includes
    compiling kernels (a cold cache) or not (the compiled kernels were
    loaded from Numba's on-disk cache, or were already in memory)."""
    timing = f"after {_plural(epochs_run, 'epoch')} in {seconds:.2f} s"
    if watch.cuda_compiled:
        return (
            f"{timing}, including JIT compilation of {_plural(watch.compiled, 'function')} "
            f"(a cold cache: later runs reuse them)"
        )
    if watch.compiled:
        return (
            f"{timing}, {watch.seconds:.2f} s of it JIT-compiling "
            f"{_plural(watch.compiled, 'function')} (a cold cache: later runs reuse them)"
        )
    return f"{timing} (no JIT compilation: the compiled kernels were cached)"


def _training_defaults(args, name, m_train):
    """Fill --epochs, --batch-size and --learning-rate left unset from
    TRAINING_DEFAULTS for the bundled data set ``name`` (or a user's data).
    The default batch size is capped at the ``m_train`` training examples: a
    batch larger than the data would run as one batch of all of them, which
    fit warns about, and a default should not draw a warning."""
    from_file = args.data or args.images
    chosen = {**TRAINING_DEFAULTS[None], **TRAINING_DEFAULTS.get(None if from_file else name, {})}
    chosen["batch_size"] = max(1, min(chosen["batch_size"], m_train))
    for key, value in chosen.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def _default_help(key):
    """ "default 30; 100 for iris": the help text's account of TRAINING_DEFAULTS."""
    special = [
        f"{overrides[key]} for {name}"
        for name, overrides in TRAINING_DEFAULTS.items()
        if name is not None and key in overrides
    ]
    if key == "batch_size":
        special.append("at most the number of training examples")
    return "; ".join([f"default {TRAINING_DEFAULTS[None][key]}"] + special)


def _train(args):
    from .network import Network

    if args.output:
        _check_output_path(args.output)
    if args.distributed:
        from .distributed import _cli_rank_setup

        _cli_rank_setup(args)
    args.np_dtype = {"float32": np.float32, "float64": np.float64}[args.dtype]
    name, Xtr, ytr, Xte, yte, n_classes = _training_data(args)
    _training_defaults(args, name, Xtr.shape[1])
    cost = _resolve_cost(args.cost, ytr)
    n_out, fit_targets = _targets(cost, ytr, n_classes, args.np_dtype)
    if args.hidden is None:
        # a convolutional stack ends in the output layer unless --hidden adds dense layers
        args.hidden = [] if args.layers else [64]
    activations = _activations(args, len(args.hidden))
    if activations[-1] is None:
        activations[-1] = {
            "categorical_cross_entropy": "softmax",
            "binary_cross_entropy": "sigmoid",
            "squared_error": "identity",
        }[cost]
    sizes = [Xtr.shape[0]] + list(args.hidden) + [n_out]
    net_kwargs = dict(init=args.init, dtype=args.np_dtype, seed=args.seed, l2=args.l2)
    if args.device is not None:
        if not _accepts(Network.__init__, "device"):
            raise CommandError("--device: this installation's Network does not take a device")
        net_kwargs["device"] = args.device
    if args.layers:
        from . import layers

        try:
            stack = layers.parse_layers(args.layers, Xtr.shape[0], args.input_shape)
        except ValueError as exc:
            raise CommandError(f"--layers: {exc}") from exc
        stack += [layers.Dense(n, a) for n, a in zip(sizes[1:], activations)]
        net = Network(stack, None, cost, **net_kwargs)
    else:
        net = Network(sizes, activations, cost, **net_kwargs)

    fit_kwargs = dict(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        verbose=True,
    )
    has_test = Xte is not None and Xte.shape[1] > 0
    # The test examples double as the per-epoch validation data, unless fit
    # is to choose when to stop: then it holds out its own validation
    # fraction, so that the test accuracy stays a measure of unseen data.
    if has_test and args.early_stopping is None and args.validation_fraction is None:
        fit_kwargs["validation_data"] = (Xte, fit_targets(yte))
    for key in OPTIONAL_FIT_ARGS:
        value = getattr(args, key)
        if value is not None:
            if not _accepts(Network.fit, key):
                raise CommandError(
                    f"--{key.replace('_', '-')}: this installation's Network.fit does "
                    f"not take {key}"
                )
            fit_kwargs[key] = value

    n_test = Xte.shape[1] if has_test else 0
    print(f"{name}: {Xtr.shape[1]} training and {n_test} test examples; {net}")
    t0 = time.perf_counter()
    with _compile_watch() as watch:
        if args.distributed:
            from .distributed import _fit_for_cli

            history = _fit_for_cli(net, Xtr, fit_targets(ytr), fit_kwargs, args)
        else:
            history = net.fit(Xtr, fit_targets(ytr), **fit_kwargs)
    seconds = time.perf_counter() - t0
    timing = _timing(len(history.cost), seconds, watch)
    if has_test:
        metric, value = _score(net, Xte, yte)
        print(f"test {metric} {value:.4f} {timing}")
    else:
        print(f"training cost {history.cost[-1]:.6f} {timing}; no test examples")
    if args.output:
        net.save(args.output)
        print(f"model written to {args.output}")
    return 0


def _load_model(path, device=None):
    """(the network saved at ``path``, the file's header).

    The file is checked by read_model_file first, so that any file that is
    not a model (a README, a data archive) gets one line saying so, never
    NumPy's advice to load it with allow_pickle.
    """
    from ._model_file import read_model_file
    from .network import Network

    if not os.path.exists(path):
        raise FileNotFoundError(f"MODEL: no such file: {path}")
    meta = read_model_file(path, name="MODEL")["metadata"]
    if device is None:
        return Network.load(path), meta
    if not _accepts(Network.load, "device"):
        raise CommandError("--device: this installation's Network.load does not take a device")
    return Network.load(path, device=device), meta


def _predict(args):
    from . import datasets

    if args.output:
        _check_output_path(args.output)
    net, _ = _load_model(args.model, args.device)
    args.np_dtype = net.dtype
    data = args.data
    if not os.path.exists(data) and data not in datasets.LOADERS:
        raise FileNotFoundError(
            f"DATA: no such file or bundled data set: {data} (the bundled data "
            f"sets: {', '.join(datasets.LOADERS)}; other data go in a .npz, "
            f".csv or IDX file)"
        )
    if data in datasets.LOADERS and not os.path.exists(data):
        # The test split prepared exactly as ``train`` prepares it.
        _, _, X, y, _ = datasets.load(
            data, test_fraction=args.test_fraction, seed=args.seed, dtype=net.dtype
        )
    elif _data_kind(data) == "idx":
        if args.labels:
            X, y = datasets.load_idx_pair(data, args.labels, dtype=net.dtype)
        else:
            X, y = datasets.load_idx_images(data, dtype=net.dtype), None
    else:
        X, y = _read_table(args, data, "DATA")
    if X.shape[0] != net.sizes[0]:
        raise CommandError(
            f"DATA: the examples have {X.shape[0]} features, the model takes {net.sizes[0]}"
        )
    values = net.forward(X) if args.outputs else net.predict(X)
    values = np.asarray(values)
    # one line per example: a label, or the n[L] outputs of its column
    rows = values.reshape(-1, 1) if values.ndim == 1 else values.T
    integer = np.issubdtype(values.dtype, np.integer)
    summary = None
    if y is not None:
        metric, score = _score(net, X, y)
        summary = f"{metric} {score:.4f} on {X.shape[1]} examples"
    if args.output:
        if args.output.lower().endswith(".npz"):
            np.savez(args.output, predictions=values)
        else:
            np.savetxt(
                args.output,
                rows,
                fmt="%d" if integer else "%.9g",
                delimiter="," if args.output.lower().endswith(".csv") else " ",
            )
        print(f"{X.shape[1]} predictions written to {args.output}")
        if summary:
            print(summary)
    else:
        lines = [" ".join(str(int(v)) if integer else f"{v:.9g}" for v in row) for row in rows]
        sys.stdout.write("\n".join(lines) + "\n")
        if summary:
            # stderr, so that stdout holds the predictions alone
            print(summary, file=sys.stderr)
    return 0


def _info(args):
    net, meta = _load_model(args.model)
    print(f"{args.model}: {meta['format']} (format version {meta['version']})")
    print(
        f"cost {net.cost_name}, dtype {np.dtype(net.dtype).name}, init {net.init}, l2 {net.l2}, "
        f"seed {net.seed}"
    )
    print(f"input: n[0] = {net.sizes[0]} features")
    header = ("layer", "n[l-1] -> n[l]", "activation", "W[l]: n[l] x n[l-1]", "b[l]", "parameters")
    rows = []
    total = 0
    for l in range(1, net.n_layers + 1):
        n, K = net.sizes[l], net.sizes[l - 1]
        count = n * K + n
        total += count
        rows.append(
            (
                str(l),
                f"{K} -> {n}",
                net.activations[l - 1],
                f"{n} x {K} = {n * K}",
                str(n),
                str(count),
            )
        )
    widths = [max(len(r[c]) for r in rows + [header]) for c in range(len(header))]
    for r in [header] + rows:
        print(
            "  ".join(
                cell.rjust(w) if c in (0, 4, 5) else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(r, widths))
            ).rstrip()
        )
    print(f"total: {total} parameters = sum over l of n[l] * n[l-1] + n[l]")
    if total != net.n_parameters:  # pragma: no cover - a corrupt layout, not a user error
        raise RuntimeError(f"parameter count {total} differs from the model's {net.n_parameters}")
    return 0


def _delegate(args):
    import importlib

    return importlib.import_module(DELEGATED[args.command][0]).cli_main(args)


def _delegated_missing(command):
    """True when ``command`` is delegated to a module this installation lacks.

    The file is looked for rather than the import tried: with numba-cuda
    installed, importing a missing fnn_numba submodule recurses in
    numba-cuda's import redirector instead of raising ModuleNotFoundError.
    """
    if command not in DELEGATED:
        return False
    here = os.path.dirname(os.path.abspath(__file__))
    return not os.path.exists(os.path.join(here, DELEGATED[command][0].rsplit(".", 1)[1] + ".py"))


# ------------------------------------------------------------------ parser
def _add_table_options(p):
    g = p.add_argument_group("reading .npz and .csv files")
    g.add_argument("--x-key", default="X", help=".npz: name of the features array (default X)")
    g.add_argument(
        "--columns-are-examples",
        action="store_true",
        help=".npz: X is stored as (n_features, m), the library's layout, instead of "
        "(m, n_features)",
    )
    g.add_argument("--delimiter", help=".csv: cell delimiter (default ',', a tab for .tsv)")
    return g


def _add_train(sub):
    from .activations import ACTIVATIONS
    from .costs import COST_ALIASES, COSTS
    from .datasets import LOADERS
    from .init import INITIALISERS
    from .kernels import OPTIMIZERS
    from .network import SCHEDULES

    p = sub.add_parser(
        "train",
        help="train a network on a bundled data set or a file",
        description="Train a network, print the cost of every epoch and the test accuracy "
        "(RMSE for squared error), and optionally save the model.",
    )
    d = p.add_argument_group("data (default: the bundled digits)")
    d.add_argument(
        "dataset_pos",
        nargs="?",
        choices=LOADERS,
        metavar="DATASET",
        help=f"a data set bundled with scikit-learn: {', '.join(LOADERS)}",
    )
    d.add_argument("--dataset", choices=LOADERS, help="the same, as an option")
    d.add_argument("--data", metavar="FILE", help="a .npz or .csv file of features and targets")
    d.add_argument("--images", metavar="FILE", help="IDX images (MNIST format, may be gzipped)")
    d.add_argument("--labels", metavar="FILE", help="IDX labels for --images")
    d.add_argument(
        "--test-data", metavar="FILE", help="test examples for --data (default: a split)"
    )
    d.add_argument("--test-images", metavar="FILE", help="IDX test images for --images")
    d.add_argument("--test-labels", metavar="FILE", help="IDX test labels for --test-images")
    d.add_argument(
        "--test-fraction",
        type=_real(0, 1),
        default=0.25,
        help="fraction held out for testing when no test file is given (default 0.25)",
    )
    t = _add_table_options(p)
    t.add_argument("--y-key", default="y", help=".npz: name of the targets array (default y)")
    t.add_argument(
        "--target-column",
        type=_column,
        default=-1,
        help=".csv: index or header name of the target column (default -1, the last)",
    )

    m = p.add_argument_group("network")
    m.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="*",
        default=None,
        metavar="N",
        help="hidden layer sizes (default 64, or none after --layers; none for no hidden layer)",
    )
    from .layers import LAYER_SYNTAX

    m.add_argument(
        "--layers",
        metavar="SPEC",
        help="convolutional layers before the dense ones, comma-separated, e.g. "
        f"conv8x3p1,maxpool2,conv16x3,flatten for digits; tokens: {LAYER_SYNTAX}",
    )
    m.add_argument(
        "--input-shape",
        type=lambda v: tuple(_positive_int(x) for x in v.split(",")),
        metavar="C,H,W",
        help="the images' shape for --layers (default: one channel, square: 64 features are 1,8,8)",
    )
    m.add_argument(
        "--activation",
        "--activations",
        nargs="+",
        choices=sorted(ACTIVATIONS),
        metavar="NAME",
        help="one name for every hidden layer, one per hidden layer, or one more for the "
        f"output layer; from {', '.join(sorted(ACTIVATIONS))} (default relu, and the "
        "output activation that matches the cost)",
    )
    m.add_argument(
        "--cost",
        choices=["auto"] + sorted(COSTS) + sorted(COST_ALIASES),
        default="auto",
        metavar="NAME",
        help="squared_error, binary_cross_entropy, categorical_cross_entropy or an alias "
        "(default auto: categorical cross-entropy for class labels, squared error "
        "for real targets)",
    )
    m.add_argument("--init", default="auto", choices=["auto"] + sorted(INITIALISERS))
    m.add_argument("--l2", type=_real(0), default=0.0, help="L2 penalty lambda (default 0)")
    m.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    m.add_argument(
        "--device", choices=["cpu", "cuda"], help="where to train (default: the Network's)"
    )
    m.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seeds the initial weights, the shuffling and the test split (default 0)",
    )

    o = p.add_argument_group("training (options without a default use Network.fit's)")
    o.add_argument("--epochs", type=_positive_int, help=_default_help("epochs"))
    o.add_argument("--batch-size", type=_positive_int, help=_default_help("batch_size"))
    o.add_argument(
        "--learning-rate", type=_real(0, low_open=True), help=_default_help("learning_rate")
    )
    o.add_argument("--optimizer", choices=list(OPTIMIZERS))
    o.add_argument("--momentum", type=_real(0, 1), help="momentum coefficient")
    o.add_argument("--beta1", type=_real(0, 1), help="adam: decay of the first moment")
    o.add_argument("--beta2", type=_real(0, 1), help="adam: decay of the second moment")
    o.add_argument("--epsilon", type=_real(0, low_open=True), help="adam: denominator offset")
    o.add_argument(
        "--lr-schedule",
        choices=SCHEDULES,
        help="learning rate of epoch e: constant alpha; invscaling alpha / (e + 1)^power_t; "
        "step alpha gamma^(e // step_size); exponential alpha gamma^e",
    )
    o.add_argument("--power-t", type=_real(0), help="invscaling: the exponent power_t")
    o.add_argument("--step-size", type=_positive_int, help="step: epochs between decays")
    o.add_argument(
        "--gamma", type=_real(0, 1, low_open=True), help="step, exponential: the decay factor"
    )
    o.add_argument(
        "--clip-norm", type=_real(0, low_open=True), help="clip the gradient's norm to this"
    )
    o.add_argument(
        "--validation-fraction",
        type=_real(0, 1, low_open=True),
        help="fraction of the training examples held out for early stopping",
    )
    o.add_argument(
        "--early-stopping",
        action="store_const",
        const=True,
        help="stop when the validation cost (on --validation-fraction of the training "
        "examples, else the training cost) stops improving; the test examples are "
        "then kept out of training altogether",
    )
    o.add_argument(
        "--patience", type=_positive_int, help="epochs without improvement before stopping"
    )
    o.add_argument(
        "--min-delta",
        type=_real(0),
        help="the smallest decrease of the cost that counts as an improvement",
    )
    o.add_argument("--progress", action=argparse.BooleanOptionalAction, help="show a progress bar")
    o.add_argument("--output", metavar="MODEL", help="save the trained model to this .npz path")
    o.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the MPI ranks that run this command (mpiexec -n P "
        "fnn-numba train --distributed ...): each trains on its shard, "
        "--batch-size is per rank (fnn_numba.distributed)",
    )
    p.set_defaults(func=_train)


def _add_predict(sub):
    p = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Print one prediction per example (a class index, or the output values for "
        "squared error), or write them to --output. When the data hold targets, the "
        "accuracy (or RMSE) goes to stderr.",
    )
    p.add_argument("model", metavar="MODEL", help="a model saved by train --output or Network.save")
    p.add_argument(
        "data",
        metavar="DATA",
        help="a .npz or .csv file, IDX images, or a bundled data set name (its test split, "
        "prepared as train prepares it)",
    )
    p.add_argument(
        "--labels", metavar="FILE", help="IDX labels for IDX images, to report the accuracy"
    )
    t = _add_table_options(p)
    t.add_argument("--y-key", help=".npz: name of a targets array, to report the accuracy")
    t.add_argument(
        "--target-column",
        type=_column,
        help=".csv: index or header name of a target column to leave out of the features "
        "and score against",
    )
    p.add_argument(
        "--outputs",
        action="store_true",
        help="print the network's outputs A[L] (probabilities) instead of predictions",
    )
    p.add_argument(
        "--output", metavar="FILE", help="write the predictions here (.npz, .csv or text)"
    )
    p.add_argument("--device", choices=["cpu", "cuda"], help="where to run the model (default cpu)")
    p.add_argument(
        "--test-fraction",
        type=_real(0, 1),
        default=0.25,
        help="for a bundled data set: as given to train (default 0.25)",
    )
    p.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="for a bundled data set: as given to train (default 0)",
    )
    p.set_defaults(func=_predict)


def _add_info(sub):
    p = sub.add_parser(
        "info",
        help="summarise a saved model",
        description="Print a saved model's cost, dtype and layers, with the parameters of each "
        "layer (W[l] is n[l] x n[l-1], plus n[l] biases) and their total.",
    )
    p.add_argument("model", metavar="MODEL")
    p.set_defaults(func=_info)


def _add_delegated(sub, command, wanted):
    import importlib

    module, help_text = DELEGATED[command]
    if command != wanted:
        # Listed in the top-level help without importing the module.
        sub.add_parser(command, help=help_text)
        return
    mod = importlib.import_module(module)
    summary = (mod.__doc__ or help_text).strip().split("\n\n")[0]
    p = sub.add_parser(command, help=help_text, description=summary)
    mod.add_cli_arguments(p)
    p.set_defaults(func=_delegate)


def _command_of(argv):
    # The top-level parser has only flags without values, so the first other
    # token names the subcommand.
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command=None):
    """The argument parser; ``command`` names the subcommand whose delegated
    module (crosscheck, bench) must be imported to add its arguments."""
    from . import __version__

    parser = _Parser(
        prog="fnn-numba",
        description="Feedforward networks whose every equation is a Numba loop: "
        "train them, predict with them, inspect them, check them; train GANs.",
        epilog="Run 'fnn-numba COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"fnn-numba {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )
    _add_train(sub)
    _add_predict(sub)
    _add_info(sub)
    for name in DELEGATED:
        _add_delegated(sub, name, command)
    return parser


def _one_line(exc):
    return " ".join(str(exc).split())


def main(argv=None):
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return
    the exit status: 0 on success, 2 for bad arguments or data, 1 when
    training diverges, a dependency is missing or the device is unavailable."""
    from .network import TrainingDivergedError

    argv = sys.argv[1:] if argv is None else [os.fspath(a) for a in argv]
    command = _command_of(argv)
    if _delegated_missing(command):
        print(
            f"fnn-numba {command}: error: this installation has no {DELEGATED[command][0]} module",
            file=sys.stderr,
        )
        return 2
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    prefix = f"fnn-numba {args.command}: error:"
    try:
        return int(args.func(args) or 0)
    except TrainingDivergedError as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # such as no CUDA GPU for --device cuda
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return 1
    except (CommandError, ValueError, TypeError, OSError) as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
