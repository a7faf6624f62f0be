"""Transfer learning: freeze layers, put on a new head, fine-tune settings, schedules.

Everything here is done by DL4J's own ``TransferLearning`` builders and
``FineTuneConfiguration``; this module checks the request first, so that a bad one is
refused with a message before DL4J sees it, and sends it to Java as one document
(``org.pydl4jft.Transfer``). A rebuild gives a *new* :class:`PreTrainedModel`; the one
it came from is left as it was.

Freezing follows DL4J's feature-extractor rule: a frozen layer takes everything below it
along (``freeze=2`` freezes the first two layers; ``freeze=["dense1"]`` freezes
``dense1`` and every layer that feeds it). Frozen layers keep their parameters bit for
bit; the updater, L1/L2 and weight decay of the fine-tune settings do not reach them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from . import _arrays, _jvm
from .errors import (
    ArgumentError,
    LayerNotFoundError,
    NothingToTrainError,
    PretrainedLayerChangeError,
    ScheduleError,
    TrainingInterruptedError,
)
from .model import History, PreTrainedModel

log = logging.getLogger(__name__)

UPDATERS = (
    "sgd",
    "adam",
    "nesterovs",
    "rmsprop",
    "adagrad",
    "adamax",
    "nadam",
    "amsgrad",
)
"""Updaters a fine-tune may switch to, by DL4J's class names in lower case."""

_UNITS = ("iteration", "epoch")

MAX_UNITS = 2**24
"""The most units a new layer (or classes a new head) may have."""


# Learning-rate schedules.


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule, built in Java as one of DL4J's ``ISchedule`` classes.

    Make one with :meth:`step`, :meth:`exponential`, :meth:`warmup` or :meth:`map`. The
    step counts DL4J's own iteration (or epoch) counter of the model, which a checkpoint
    carries over from its earlier training; see :func:`reset_counters`.
    """

    kind: str
    unit: str
    params: tuple = ()

    @classmethod
    def step(
        cls, initial: float, decay: float, every: int, unit: str = "iteration"
    ) -> Schedule:
        """``initial * decay ** floor(t / every)`` (DL4J's StepSchedule)."""
        _positive("initial", initial, ScheduleError)
        _fraction("decay", decay)
        _whole("every", every, ScheduleError)
        return cls("step", _unit(unit), (float(initial), float(decay), int(every)))

    @classmethod
    def exponential(
        cls, initial: float, gamma: float, unit: str = "iteration"
    ) -> Schedule:
        """``initial * gamma ** t`` (DL4J's ExponentialSchedule)."""
        _positive("initial", initial, ScheduleError)
        _fraction("gamma", gamma)
        return cls("exponential", _unit(unit), (float(initial), float(gamma)))

    @classmethod
    def warmup(
        cls, target: float, steps: int, unit: str = "iteration", start: float = 0.0
    ) -> Schedule:
        """A linear ramp from ``start`` to ``target`` over ``steps``, then ``target``.

        Built as DL4J's MapSchedule, one entry per step of the ramp.
        """
        _positive("target", target, ScheduleError)
        _whole("steps", steps, ScheduleError)
        if steps > 100_000:
            raise ScheduleError(
                f"warm-up steps must be at most 100000; got {steps}. Count epochs "
                "instead (unit='epoch') for long ramps"
            )
        if not _is_real(start) or not 0 <= start < target:
            raise ScheduleError(
                f"warm-up start must be a number from 0 up to the target {target:g}; "
                f"got {start!r}"
            )
        values = {t: start + (target - start) * t / steps for t in range(steps)}
        values[steps] = float(target)
        return cls.map(values, unit)

    @classmethod
    def map(cls, values: Mapping[int, float], unit: str = "iteration") -> Schedule:
        """The rate from each step on, e.g. ``{0: 1e-2, 100: 1e-3}`` (MapSchedule)."""
        if not isinstance(values, Mapping) or 0 not in values:
            raise ScheduleError(
                "a map schedule needs a mapping from step to rate with an entry for "
                f"step 0; got {values!r}"
            )
        items = []
        for step, rate in values.items():
            if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
                raise ScheduleError(
                    f"schedule steps must be whole numbers; got {step!r}"
                )
            if not 0 <= step < 2**31:
                raise ScheduleError(
                    f"schedule steps must be from 0 to 2**31 - 1 (DL4J counts them in "
                    f"32 bits); got {step}"
                )
            if not _is_real(rate) or rate < 0:
                raise ScheduleError(
                    f"schedule rates must be finite and 0 or more; got {rate!r} at "
                    f"step {step}"
                )
            items.append((int(step), float(rate)))
        return cls("map", _unit(unit), tuple(sorted(items)))

    def rate_at(self, iteration: int, epoch: int = 0) -> float:
        """The rate this schedule gives at DL4J's ``iteration`` and ``epoch``."""
        t = iteration if self.unit == "iteration" else epoch
        if self.kind == "step":
            initial, decay, every = self.params
            return initial * decay ** math.floor(t / every)
        if self.kind == "exponential":
            initial, gamma = self.params
            return initial * gamma**t
        return [rate for step, rate in self.params if step <= t][-1]

    def to_spec(self) -> dict:
        spec = {"type": self.kind, "unit": self.unit.upper()}
        if self.kind == "step":
            spec.update(zip(("initial", "decay", "step"), self.params, strict=True))
        elif self.kind == "exponential":
            spec.update(zip(("initial", "gamma"), self.params, strict=True))
        else:
            spec["values"] = {str(step): rate for step, rate in self.params}
        return spec


# Fine-tune settings and new layers.


@dataclasses.dataclass(frozen=True)
class FineTune:
    """DL4J FineTuneConfiguration settings; ``None`` keeps what the model has.

    Parameters
    ----------
    updater : str, optional
        One of :data:`UPDATERS`; needs ``learning_rate`` or ``schedule``.
    learning_rate : float, optional
        Without ``updater``, set on every trainable layer with DL4J's
        ``setLearningRate`` (the layers keep their updater).
    schedule : Schedule, optional
        A learning-rate schedule instead of a fixed rate.
    momentum : float, optional
        Nesterovs momentum (default DL4J's 0.9).
    l1, l2, weight_decay : float, optional
        Penalties for the trainable layers (0 removes the model's own). Weight decay
        is DL4J's ``WeightDecay(applyLR=true)``: each step also subtracts
        ``lr * weight_decay * w`` from the weights (not the biases). DL4J applies
        either L2 or weight decay to a layer, so giving both (above 0) is refused.
    dropout : float, optional
        Probability of *dropping* an input, as in Keras; 0 clears the model's dropout.
        (DL4J's ``dropOut(p)`` takes the probability of keeping it, ``1 - dropout``.)
    seed : int, optional
    activation, weight_init : str, optional
        These change pretrained layers; :func:`transfer` refuses them unless
        ``allow_pretrained_changes=True``.
    """

    updater: str | None = None
    learning_rate: float | None = None
    schedule: Schedule | None = None
    momentum: float | None = None
    l1: float | None = None
    l2: float | None = None
    weight_decay: float | None = None
    dropout: float | None = None
    seed: int | None = None
    activation: str | None = None
    weight_init: str | None = None

    def check(self) -> None:
        if self.updater is not None and self.updater not in UPDATERS:
            raise ArgumentError(
                f"updater must be one of {', '.join(UPDATERS)}; got {self.updater!r}"
            )
        if self.learning_rate is not None:
            _positive("learning_rate", self.learning_rate, ArgumentError)
        if self.schedule is not None and not isinstance(self.schedule, Schedule):
            raise ScheduleError(
                f"schedule must be a Schedule (Schedule.step(...), ...); got "
                f"{self.schedule!r}"
            )
        if self.learning_rate is not None and self.schedule is not None:
            raise ArgumentError(
                "give learning_rate or schedule, not both; a schedule sets the rate"
            )
        if (
            self.updater is not None
            and self.learning_rate is None
            and self.schedule is None
        ):
            raise ArgumentError(
                f"updater {self.updater!r} needs a learning_rate or a schedule"
            )
        if self.momentum is not None and (
            self.updater != "nesterovs"
            or not _is_real(self.momentum)
            or not 0 <= self.momentum < 1
        ):
            raise ArgumentError(
                "momentum is for updater='nesterovs' and must lie in [0, 1); got "
                f"{self.momentum!r} with updater {self.updater!r}"
            )
        for name in ("l1", "l2", "weight_decay"):
            value = getattr(self, name)
            if value is not None and (not _is_real(value) or value < 0):
                raise ArgumentError(f"{name} must be 0 or more; got {value!r}")
        if self.l2 and self.weight_decay:
            # DL4J keeps one of the two and drops the other with a log warning.
            raise ArgumentError(
                f"l2={self.l2!r} and weight_decay={self.weight_decay!r} were both "
                "given; DL4J applies only one of them to a layer. Pass one (or set "
                "the other to 0 to remove the model's own)"
            )
        if self.dropout is not None and (
            not _is_real(self.dropout) or not 0 <= self.dropout < 1
        ):
            raise ArgumentError(
                "dropout is the probability of dropping an input, in [0, 1) (0 clears "
                f"it); got {self.dropout!r}"
            )
        if self.seed is not None and (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, (int, np.integer))
            or not -(2**63) <= self.seed < 2**63
        ):
            raise ArgumentError(
                "seed must be a whole number from -2**63 to 2**63 - 1 (Java's long); "
                f"got {self.seed!r}"
            )
        if self.activation is not None:
            _enum("activation", self.activation, _activations())
        if self.weight_init is not None:
            _enum("weight_init", self.weight_init, _weight_inits())

    def to_spec(self) -> dict:
        spec: dict = {}
        if self.updater is not None:
            updater = {"type": self.updater}
            if self.schedule is not None:
                updater["schedule"] = self.schedule.to_spec()
            else:
                updater["lr"] = float(self.learning_rate)
            if self.momentum is not None:
                updater["momentum"] = float(self.momentum)
            spec["updater"] = updater
        for name, key in (
            ("l1", "l1"),
            ("l2", "l2"),
            ("weight_decay", "weightDecay"),
            ("dropout", "dropout"),
        ):
            if getattr(self, name) is not None:
                spec[key] = float(getattr(self, name))
        if self.seed is not None:
            spec["seed"] = int(self.seed)
        if self.activation is not None:
            spec["activation"] = self.activation.upper()
        if self.weight_init is not None:
            spec["weightInit"] = self.weight_init.upper()
        return spec

    @property
    def rate_only(self) -> bool:
        """A rate or schedule without an updater: set per layer after the rebuild."""
        return self.updater is None and (
            self.learning_rate is not None or self.schedule is not None
        )


@dataclasses.dataclass(frozen=True)
class Dense:
    """A dense layer to add under the new head."""

    units: int
    activation: str = "relu"
    weight_init: str = "relu"
    dropout: float = 0.0


# The rebuild.


def transfer(
    model: PreTrainedModel,
    *,
    freeze: int | str | Sequence[str] | None = None,
    n_classes: int | None = None,
    remove_top: int = 0,
    hidden: Sequence[Dense | Mapping] = (),
    head_activation: str = "softmax",
    head_loss: str = "mcxent",
    head_weight_init: str = "xavier",
    fine_tune: FineTune | None = None,
    allow_pretrained_changes: bool = False,
    reset_counters: bool = False,
) -> PreTrainedModel:
    """A new model built from ``model`` by DL4J's TransferLearning.

    Parameters
    ----------
    freeze : int, str or list of str, optional
        The first ``freeze`` layers, or these layers (vertices) and all below them.
    n_classes : int, optional
        Replace the output layer with a new one of ``n_classes`` units (2 to
        :data:`MAX_UNITS`), with ``head_activation``, ``head_loss`` and
        ``head_weight_init``. Where the removed layers took a sequence (an
        RnnOutputLayer or a recurrent layer), the head is an RnnOutputLayer in the same
        data format: it classifies every time step, ``predict`` gives
        ``[batch, n_classes, time]`` and labels are ``[batch, time]`` class ids or
        one-hot ``[batch, n_classes, time]``. New layers whose parameters alone would
        not fit in ND4J's free off-heap memory are refused.
    remove_top : int
        Layers to remove from the top, the output layer included (a new head needs
        ``n_classes``). With ``n_classes`` and ``remove_top=0``, the output layer
        alone is replaced.
    hidden : list of Dense (or dicts with the same keys)
        New dense layers put between the kept layers and the new head.
    fine_tune : FineTune, optional
        Updater, rate or schedule, penalties, dropout, seed.
    allow_pretrained_changes : bool
        Let ``fine_tune.activation`` / ``weight_init`` change pretrained layers.
    reset_counters : bool
        Start DL4J's iteration and epoch counters at 0 (schedules count from them).

    Returns
    -------
    PreTrainedModel
        The rebuilt model; ``model`` is unchanged. Parameters of kept layers and their
        optimizer state carry over; new layers start as their weight init makes them.
    """
    if not isinstance(model, PreTrainedModel):
        raise ArgumentError(f"model must be a PreTrainedModel; got {model!r}")
    fine_tune = _check_fine_tune(fine_tune)
    states = layer_states(model)
    names = [s["name"] for s in states]
    _check_bool("allow_pretrained_changes", allow_pretrained_changes)
    _check_bool("reset_counters", reset_counters)
    if isinstance(remove_top, bool) or not isinstance(remove_top, (int, np.integer)):
        raise ArgumentError(f"remove_top must be a whole number; got {remove_top!r}")
    if not 0 <= remove_top < len(names):
        raise ArgumentError(
            f"remove_top must be from 0 to {len(names) - 1} (the model has "
            f"{len(names)} layers and must keep one); got {remove_top}"
        )
    hidden = [_dense(h) for h in hidden]
    spec: dict = {}

    # The new top: which layers go, what replaces them.
    removed: list[str] = []
    if n_classes is not None:
        if (
            isinstance(n_classes, bool)
            or not isinstance(n_classes, (int, np.integer))
            or not 2 <= n_classes <= MAX_UNITS
        ):
            raise ArgumentError(
                f"n_classes must be a whole number from 2 to {MAX_UNITS}; got "
                f"{n_classes!r}. For one output, keep the model's head"
            )
        count = max(remove_top, 1)
        if count >= len(names):
            raise NothingToTrainError(
                f"a new head replaces the top {count} layer(s), but the model has "
                f"only {len(names)} ({names}); nothing would be left to build on. "
                "Use a model with more layers, or keep its head (no n_classes)"
            )
        removed = _top_chain(model, count)
        taken = set(names) - set(removed)
        new_names = _fresh_names(taken, len(hidden))
        spec["removeTop"] = len(removed)
        spec["add"] = [
            {
                "name": name,
                "nOut": int(h.units),
                "activation": _enum("activation", h.activation, _activations()),
                "weightInit": _enum("weight_init", h.weight_init, _weight_inits()),
                "dropout": float(h.dropout),
            }
            for name, h in zip(new_names[:-1], hidden, strict=True)
        ]
        spec["head"] = {
            "name": new_names[-1],
            "nOut": int(n_classes),
            "activation": _enum("head_activation", head_activation, _activations()),
            "loss": _enum("head_loss", head_loss, _losses()),
            "weightInit": _enum("head_weight_init", head_weight_init, _weight_inits()),
        }
        _check_memory(model, removed, hidden, int(n_classes))
    elif remove_top or hidden:
        raise ArgumentError(
            "remove_top and hidden build a new head, which needs n_classes; got "
            f"remove_top={remove_top}, {len(hidden)} hidden layers and no n_classes"
        )

    # Freezing, checked against what stays.
    frozen = _frozen_names(model, freeze, states)
    gone = [n for n in frozen if n in removed]
    if gone:
        raise NothingToTrainError(
            f"freeze={freeze!r} freezes layers {gone}, but remove_top={remove_top} "
            f"removes them for the new head; freeze only layers below {removed[-1]!r}"
        )
    output = names[-1]
    if n_classes is None and output in frozen:
        raise NothingToTrainError(
            f"freezing {freeze!r} freezes the output layer {output!r}, so nothing "
            "would train; freeze fewer layers, or give n_classes for a new head"
        )
    if frozen:
        if model.kind == "MultiLayerNetwork":
            spec["freezeUpTo"] = max(names.index(n) for n in frozen)
        else:
            spec["freeze"] = frozen

    # Fine-tune settings that would reach pretrained layers need consent.
    if fine_tune is not None:
        _check_pretrained_changes(fine_tune, states, removed, allow_pretrained_changes)
        if fine_tune.activation is not None and n_classes is None:
            raise ArgumentError(
                f"a fine-tune activation applies to every kept layer, the output layer "
                f"{output!r} included, which would lose its "
                f"{states[-1].get('activation')}; give n_classes for a new head, or "
                "leave activation out"
            )
        if not fine_tune.rate_only:
            spec["fineTune"] = fine_tune.to_spec()

    with _jvm.java_errors("rebuilding the model with DL4J's TransferLearning"):
        net = _jvm.helper("Transfer").rebuild(model.java_model, json.dumps(spec))
    built = PreTrainedModel(net, model.kind, model.source, model.normalizer)
    built._normalizer_file = model._normalizer_file
    if reset_counters:
        set_counters(built, 0, 0)
    if fine_tune is not None and fine_tune.rate_only:
        for state in layer_states(built):
            if not state["frozen"] and state.get("learning_rate") is not None:
                set_layer_learning_rate(
                    built,
                    state["name"],
                    fine_tune.schedule or fine_tune.learning_rate,
                )
    log.info(
        "rebuilt %s: frozen %s%s",
        model.kind,
        frozen_layers(built) or "nothing",
        f", new head of {n_classes} classes" if n_classes else "",
    )
    return built


def unfreeze(model: PreTrainedModel, *, fine_tune: FineTune | None = None):
    """A new model with every layer trainable again, for a second stage.

    Parameters and counters carry over exactly; layers that were training keep their
    optimizer state (Adam moments, ...); layers that were frozen start with fresh state.
    ``fine_tune`` settings are applied afterwards, to all layers.
    """
    fine_tune = _check_fine_tune(fine_tune)
    with _jvm.java_errors("unfreezing the model"):
        net = _jvm.helper("Transfer").unfreeze(model.java_model)
    unfrozen = PreTrainedModel(net, model.kind, model.source, model.normalizer)
    unfrozen._normalizer_file = model._normalizer_file
    if fine_tune is not None:
        unfrozen = transfer(unfrozen, fine_tune=fine_tune)
    return unfrozen


# Reading and setting rates, counters and layer states.


def layer_states(
    model: PreTrainedModel, iteration: int | None = None, epoch: int | None = None
) -> list[dict]:
    """Per layer: name, frozen, updater, learning rate in effect, penalties, dropout.

    The rate is the one the layer's updater gives at ``iteration`` / ``epoch`` (default:
    the model's counters now), so schedules can be read ahead or back.
    """
    it, ep = counters(model).values()
    iteration = it if iteration is None else iteration
    epoch = ep if epoch is None else epoch
    _check_counters(iteration, epoch)
    with _jvm.java_errors("reading the layers"):
        text = _jvm.helper("Transfer").layerStates(
            model.java_model, int(iteration), int(epoch)
        )
    return json.loads(str(text))


def _check_counters(iteration, epoch) -> None:
    for name, value in (("iteration", iteration), ("epoch", epoch)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or not 0 <= value < 2**31
        ):
            raise ArgumentError(f"{name} must be a whole number from 0; got {value!r}")


def learning_rates_at(
    model: PreTrainedModel, iteration: int | None = None, epoch: int | None = None
) -> dict[str, float | None]:
    """Each layer's learning rate at that iteration and epoch; None when frozen."""
    return {
        s["name"]: None if s["frozen"] else s.get("learning_rate")
        for s in layer_states(model, iteration, epoch)
        if s["params"] > 0
    }


def frozen_layers(model: PreTrainedModel) -> list[str]:
    return [s["name"] for s in layer_states(model) if s["frozen"]]


def counters(model: PreTrainedModel) -> dict[str, int]:
    """DL4J's iteration and epoch counters (schedules are functions of them)."""
    with _jvm.java_errors("reading the counters"):
        transfer_class = _jvm.helper("Transfer")
        return {
            "iteration": int(transfer_class.iterations(model.java_model)),
            "epoch": int(transfer_class.epochs(model.java_model)),
        }


def set_counters(model: PreTrainedModel, iteration: int = 0, epoch: int = 0) -> None:
    """Sets DL4J's counters, e.g. to 0 so that a new schedule starts at its start."""
    _check_counters(iteration, epoch)
    with _jvm.java_errors("setting the counters"):
        _jvm.helper("Transfer").setCounters(
            model.java_model, int(iteration), int(epoch)
        )
    model._info = None


def set_layer_learning_rate(
    model: PreTrainedModel, layer: str | int, rate: float | Schedule
) -> None:
    """Sets one layer's rate (0 stops it) or schedule through DL4J's setLearningRate.

    The layer keeps its updater and optimizer state. Frozen layers are refused: unfreeze
    them first. At rate 0 a layer's parameters stop moving unless it has weight decay
    that DL4J applies independently of the rate (``WeightDecay(applyLR=false)``, as in
    the 0.9.1 iris example): that still shrinks the weights; clear it with
    ``FineTune(weight_decay=0)``.
    """
    states = layer_states(model)
    names = [s["name"] for s in states]
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if not 0 <= layer < len(names):
            raise LayerNotFoundError(
                f"layer index must be from 0 to {len(names) - 1}; got {layer}"
            )
        layer = names[layer]
    if layer not in names:
        raise LayerNotFoundError(
            f"the model has no layer {layer!r}; its layers are {names}"
        )
    state = states[names.index(layer)]
    if state["frozen"]:
        raise ArgumentError(
            f"layer {layer!r} is frozen, so it has no rate to set; unfreeze the model "
            "first (unfreeze(model))"
        )
    if state.get("learning_rate") is None:
        raise ArgumentError(
            f"layer {layer!r} ({state['type']}) has no learning rate of its own"
        )
    schedule = None
    if isinstance(rate, Schedule):
        schedule = json.dumps(rate.to_spec())
        value = 0.0
    else:
        if not _is_real(rate) or rate < 0:
            raise ArgumentError(
                f"a layer's learning rate must be a finite number, 0 or more; got "
                f"{rate!r}"
            )
        value = float(rate)
    index = 0 if model.kind != "MultiLayerNetwork" else names.index(layer)
    with _jvm.java_errors(f"setting the learning rate of {layer}"):
        _jvm.helper("Transfer").setRate(model.java_model, layer, index, value, schedule)
    model._info = None


# What tests and users look at: parameters, gradients, training-mode output.


def parameters(model: PreTrainedModel) -> dict[str, np.ndarray]:
    """Copies of every parameter array, keyed ``"layer/param"`` (``W``, ``b``, ...)."""
    with _jvm.java_errors("reading the parameters"):
        table = _jvm.helper("Transfer").parameters(model.java_model)
        return {str(k): _arrays.from_java(table.get(k)) for k in table.keySet()}


def updater_state(model: PreTrainedModel) -> dict[str, np.ndarray]:
    """Copies of the optimizer state, keyed ``"layer/param/Updater/key"``."""
    with _jvm.java_errors("reading the optimizer state"):
        table = _jvm.helper("Transfer").updaterState(model.java_model)
        return {str(k): _arrays.from_java(table.get(k)) for k in table.keySet()}


def gradient(model: PreTrainedModel, features, labels) -> np.ndarray:
    """DL4J's gradient for one minibatch (computeGradientAndScore), flat.

    In the order of the model's flat parameter vector. It is summed over the minibatch:
    DL4J's updater divides it by the minibatch size (for networks configured with
    ``miniBatch``, the default) and adds L1/L2 before the learning rate applies.
    """
    x, rows = model._features_to_java(features)
    y = model._labels_to_java(labels, rows)
    with _jvm.java_errors("computing the gradient"):
        return _arrays.from_java(
            _jvm.helper("Transfer").gradient(model.java_model, x, y)
        )


def flat_parameters(model: PreTrainedModel) -> np.ndarray:
    with _jvm.java_errors("reading the parameters"):
        return _arrays.from_java(model.java_model.params().dup()).ravel()


def train_mode_output(model: PreTrainedModel, features) -> np.ndarray:
    """The output as in training (dropout on): two calls differ if dropout is active."""
    x, _ = model._features_to_java(features)
    with _jvm.java_errors("running the model in training mode"):
        return _arrays.from_java(
            _jvm.helper("Transfer").trainModeOutput(model.java_model, x)
        )


# The two-stage recipe.


@dataclasses.dataclass(frozen=True)
class TwoStageResult:
    """The model after both stages, the history of each, and what stage 1 froze."""

    model: PreTrainedModel
    head: History
    full: History
    frozen: tuple[str, ...] = ()

    @property
    def history(self) -> History:
        """Both stages as one history (DL4J's epoch counter runs on across them)."""
        return History(
            self.head.epochs + self.full.epochs,
            best_epoch=self.full.best_epoch,
            monitor=self.full.monitor,
            stopped=self.full.stopped,
        )


def two_stage(
    model: PreTrainedModel,
    features,
    labels,
    *,
    n_classes: int,
    freeze: int | str | Sequence[str] | None = None,
    head_epochs: int = 10,
    head_learning_rate: float = 1e-2,
    epochs: int = 10,
    learning_rate: float = 1e-3,
    updater: str = "adam",
    hidden: Sequence[Dense | Mapping] = (),
    remove_top: int = 0,
    seed: int = 0,
    **fit_options,
) -> TwoStageResult:
    """New head trained with the rest frozen, then everything at a smaller rate.

    Stage 1 freezes ``freeze`` (default: every layer kept from ``model``; 0: none), puts
    on a head of ``n_classes`` and trains ``head_epochs`` at ``head_learning_rate`` with
    ``updater``. Stage 2 unfreezes all layers and trains ``epochs`` at
    ``learning_rate``, keeping the head's optimizer state. Other keyword arguments
    (``batch_size``, ``shuffle``, ``progress``, ...) go to
    :meth:`PreTrainedModel.fine_tune` in both stages.
    """
    if freeze is None:
        kept = len(layer_states(model)) - max(remove_top, 1)
        freeze = kept if kept > 0 else None
    _positive("learning_rate", learning_rate, ArgumentError)
    _positive("head_learning_rate", head_learning_rate, ArgumentError)
    staged = transfer(
        model,
        freeze=freeze,
        n_classes=n_classes,
        remove_top=remove_top,
        hidden=hidden,
        fine_tune=FineTune(
            updater=updater, learning_rate=head_learning_rate, seed=seed
        ),
        reset_counters=True,
    )
    try:
        head = staged.fine_tune(
            features,
            labels,
            head_learning_rate,
            epochs=head_epochs,
            seed=seed,
            **fit_options,
        )
    except TrainingInterruptedError as e:
        # The new model is not the caller's: hand it over with the interrupt.
        raise TrainingInterruptedError(
            f"stage 1 of 2 (new head): {e}", e.history, staged
        ) from e
    full_model = unfreeze(staged)
    try:
        full = full_model.fine_tune(
            features, labels, learning_rate, epochs=epochs, seed=seed, **fit_options
        )
    except TrainingInterruptedError as e:
        raise TrainingInterruptedError(
            f"stage 2 of 2 (all layers): {e}", e.history, full_model
        ) from e
    return TwoStageResult(full_model, head, full, tuple(staged.frozen_layers))


# Checks.


def _check_fine_tune(fine_tune) -> FineTune | None:
    if fine_tune is None:
        return None
    if isinstance(fine_tune, Mapping):
        try:
            fine_tune = FineTune(**fine_tune)
        except TypeError as e:
            fields = ", ".join(f.name for f in dataclasses.fields(FineTune))
            raise ArgumentError(
                f"fine_tune settings take {fields}; got {sorted(fine_tune)} ({e})"
            ) from e
    if not isinstance(fine_tune, FineTune):
        raise ArgumentError(
            f"fine_tune must be a FineTune or a dict; got {fine_tune!r}"
        )
    fine_tune.check()
    return fine_tune


def _frozen_names(model, freeze, states) -> list[str]:
    """The layers ``freeze`` names, before DL4J's rule adds what feeds them."""
    names = [s["name"] for s in states]
    if freeze is None:
        return []
    if isinstance(freeze, (int, np.integer)) and not isinstance(freeze, bool):
        if not 0 <= freeze <= len(names):
            raise ArgumentError(
                f"freeze={freeze}, but the model has {len(names)} layers in all "
                f"({names}); freeze from 0 (nothing) to {len(names) - 1}"
            )
        return names[: int(freeze)]
    if isinstance(freeze, str):
        freeze = [freeze]
    if not isinstance(freeze, Sequence) or not freeze:
        raise ArgumentError(
            f"freeze must be a number of layers, a layer name or a list of names; got "
            f"{freeze!r}"
        )
    unknown = [n for n in freeze if n not in names]
    if unknown:
        raise LayerNotFoundError(
            f"cannot freeze {unknown}: the {model.kind} has no such layer; its layers "
            f"are {names}"
        )
    if model.kind == "MultiLayerNetwork":
        return names[: max(names.index(n) for n in freeze) + 1]
    return list(freeze)


def _top_chain(model, count: int) -> list[str]:
    """The ``count`` layers at the top, output first (in a graph: a plain chain)."""
    layers = model.info["layers"]
    if model.kind == "MultiLayerNetwork":
        lowest = layers[len(layers) - count]
        if lowest.get("n_in") is None:
            raise ArgumentError(
                f"cannot remove {count} layers from the top: the lowest of them, "
                f"{lowest['name']!r} ({lowest['type']}), has no input size for the new "
                "layers to take over; remove one layer more or fewer"
            )
        names = [layer["name"] for layer in layers]
        return list(reversed(names[len(names) - count :]))
    outputs = [o for o in model.info["outputs"]]
    if len(outputs) != 1:
        raise ArgumentError(
            f"this ComputationGraph has {len(outputs)} outputs; a new head is put on "
            "graphs with one output"
        )
    by_name = {layer["name"]: layer for layer in layers}
    consumers = {}
    for layer in layers:
        for source in layer.get("inputs", []):
            consumers.setdefault(source, []).append(layer["name"])
    current = next(name for name in reversed(list(by_name)) if name not in consumers)
    chain = []
    for k in range(count):
        row = by_name[current]
        if row["type"] == "Input" or row.get("n_in") is None:
            raise ArgumentError(
                f"cannot remove {count} layers from the top: {current!r} is not a "
                "layer with an input size"
            )
        chain.append(current)
        if k < count - 1:
            inputs = row.get("inputs", [])
            if len(inputs) != 1 or len(consumers.get(inputs[0], [])) != 1:
                raise ArgumentError(
                    f"cannot remove {count} layers from the top: below {current!r} "
                    "the graph branches; remove fewer"
                )
            current = inputs[0]
    return chain


def _fresh_names(taken: set[str], hidden: int) -> list[str]:
    def free(base: str) -> str:
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}{k}"
        taken.add(name)
        return name

    return [free(f"new_dense{i}") for i in range(hidden)] + [free("new_output")]


def _check_pretrained_changes(fine_tune, states, removed, allowed) -> None:
    if allowed:
        return
    pretrained = [s for s in states if s["name"] not in removed and s["params"] > 0]
    problems = []
    if fine_tune.activation is not None:
        wanted = fine_tune.activation.lower()
        hit = [
            s["name"]
            for s in pretrained
            if s.get("activation") and wanted not in s["activation"].lower()
        ]
        if hit:
            problems.append(f"activation {fine_tune.activation!r} would change {hit}")
    if fine_tune.weight_init is not None:
        hit = [s["name"] for s in pretrained if s.get("weight_init")]
        if hit:
            problems.append(
                f"weight_init {fine_tune.weight_init!r} would be recorded on {hit}"
            )
    if problems:
        raise PretrainedLayerChangeError(
            "the fine-tune settings change pretrained layers: "
            + "; ".join(problems)
            + ". Leave activation/weight_init out, or pass "
            "allow_pretrained_changes=True if that is meant"
        )


def _dense(h) -> Dense:
    if isinstance(h, Mapping):
        try:
            h = Dense(**h)
        except TypeError as e:
            raise ArgumentError(
                f"a hidden layer takes units, activation, weight_init, dropout; got "
                f"{dict(h)} ({e})"
            ) from e
    if not isinstance(h, Dense):
        raise ArgumentError(f"hidden layers must be Dense or dicts; got {h!r}")
    _whole("units", h.units, ArgumentError)
    if h.units > MAX_UNITS:
        raise ArgumentError(
            f"hidden layer units must be at most {MAX_UNITS}; got {h.units}"
        )
    if not _is_real(h.dropout) or not 0 <= h.dropout < 1:
        raise ArgumentError(f"dropout must lie in [0, 1); got {h.dropout!r}")
    return h


def _check_memory(model, removed, hidden, n_classes) -> None:
    """Refuses new layers whose parameters alone exceed ND4J's free off-heap memory.

    ND4J keeps parameters off the Java heap, within JavaCPP's ``maxbytes``: the
    ``offheap`` setting, or the heap size when that is not set. Training needs more
    (gradients, optimizer state), so passing this check does not promise a fit.
    """
    rows = {layer["name"]: layer for layer in model.info["layers"]}
    n_in = int(rows[removed[-1]]["n_in"])
    count = 0
    for size in [h.units for h in hidden] + [n_classes]:
        count += n_in * int(size) + int(size)
        n_in = int(size)
    need = count * model.dtype.itemsize
    with _jvm.java_errors("reading ND4J's memory limit"):
        pointer = _jvm.jclass("org.bytedeco.javacpp.Pointer")
        limit, used = int(pointer.maxBytes()), int(pointer.totalBytes())
    if need > limit - used:
        settings = _jvm.settings()
        source = (
            f"the offheap setting {settings.offheap}"
            if settings.offheap
            else f"JavaCPP's default, the heap size {settings.heap} (no offheap set)"
        )
        raise ArgumentError(
            f"the new layers would have {count} parameters ({need / 2**30:.3g} GiB of "
            f"{model.dtype}), more than ND4J's free off-heap memory: "
            f"{(limit - used) / 2**30:.3g} GiB of a {limit / 2**30:.3g} GiB limit "
            f"(JavaCPP maxbytes, from {source}). Use fewer units or classes, or "
            "set a larger offheap before the JVM starts (PY_DL4J_FT_OFFHEAP or "
            "py_dl4j_ft.configure(offheap=...))"
        )


_ENUMS: dict[str, tuple[str, ...]] = {}


def _enum_values(java_class: str) -> tuple[str, ...]:
    if java_class not in _ENUMS:
        with _jvm.java_errors(f"listing {java_class}"):
            _ENUMS[java_class] = tuple(
                str(v.name()) for v in _jvm.jclass(java_class).values()
            )
    return _ENUMS[java_class]


def _activations():
    return _enum_values("org.nd4j.linalg.activations.Activation")


def _weight_inits():
    return _enum_values("org.deeplearning4j.nn.weights.WeightInit")


def _losses():
    return _enum_values("org.nd4j.linalg.lossfunctions.LossFunctions$LossFunction")


def _enum(what: str, value, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.upper() not in allowed:
        raise ArgumentError(
            f"{what} must be one of DL4J's {', '.join(a.lower() for a in allowed)}; "
            f"got {value!r}"
        )
    return value.upper()


def _is_real(value) -> bool:
    return (
        not isinstance(value, (bool, np.bool_))
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
    )


def _positive(name, value, error) -> None:
    if not _is_real(value) or value <= 0:
        raise error(f"{name} must be a positive finite number; got {value!r}")


def _fraction(name, value) -> None:
    if not _is_real(value) or not 0 < value <= 1:
        raise ScheduleError(
            f"{name} must lie in (0, 1] so that the rate does not grow; got {value!r}"
        )


def _whole(name, value, error) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise error(f"{name} must be a whole number of at least 1; got {value!r}")


def _unit(unit) -> str:
    if unit not in _UNITS:
        raise ScheduleError(f"unit must be 'iteration' or 'epoch'; got {unit!r}")
    return unit


def _check_bool(name, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(f"{name} must be True or False; got {value!r}")
