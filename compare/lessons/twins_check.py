"""Check a pair of twins without training: the same constructor, the same output shape, the
same parameter counts (or a named reason they differ), weights that port, and the same
logits at step 0 and after one step. `python -m compare check-twins` runs it per Keras
backend; a notebook calls `check_twins` itself.

    KERAS_BACKEND=jax python -m compare.lessons.twins_check RESULT.json check REFERENCE
    KERAS_BACKEND=jax python -m compare.lessons.twins_check RESULT.json describe REFERENCE [...]

Imports Keras (with the backend KERAS_BACKEND names) and torch.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import keras
import numpy as np
import torch

from compare.catalog.frameworks import KERAS, TORCH
from compare.catalog.registry import ModelSpec, twins_spec
from compare.catalog.twins import Twins, TwinsError, load_twins, resolved
from compare.contract.results import write_json_atomic
from compare.data.datasets import load_sample, unit_interval
from compare.lessons import parity, suspects
from compare.porting.params import keras_param_counts, torch_param_counts
from compare.porting.port_keras import UnportableLayer, build_model, match, state_to_keras, weighted_parts
from compare.porting.port_torch import torch_to_state
from compare.porting.weights import PortingError, layouts

BATCH = 32  # real digits from the shipped sample, as in the built-ins' parity checks


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class TwinsReport:
    """The checks of one pair of twins on this process's Keras backend, in order."""

    twins: str
    backend: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def table(self) -> str:
        rows = [
            ("check", "result", "detail"),
            *((c.name, "pass" if c.passed else "FAIL", c.detail) for c in self.checks),
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows)

    def __str__(self) -> str:
        verdict = "every check passes" if self.passed else "a check FAILED"
        return f"Twins {self.twins!r} on Keras' {self.backend} backend: {verdict}\n{self.table()}"


def signature(cls: type) -> list[tuple[str, str]]:
    """(name, default) of each named constructor argument; **kwargs and *args left out."""
    parameters = inspect.signature(cls).parameters.values()
    skipped = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return [(p.name, "" if p.default is p.empty else repr(p.default)) for p in parameters if p.kind not in skipped]


def written(arguments: list[tuple[str, str]]) -> str:
    return "(" + ", ".join(f"{name}={default}" if default else name for name, default in arguments) + ")"


def check_signatures(twins: Twins) -> Check:
    keras_args, torch_args = signature(twins.keras), signature(twins.torch)
    if keras_args == torch_args:
        return Check("constructors", True, f"both {written(keras_args)}")
    return Check("constructors", False, f"Keras {written(keras_args)} against torch {written(torch_args)}")


def has_batch_norm(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


def dropout_rate_argument(twins: Twins) -> bool:
    return any(name == "dropout_rate" for name, _ in signature(twins.torch))


def spec_of(twins: Twins, source: str = "") -> ModelSpec:
    """The twins as a catalog entry, which the parity checks and the runners take."""
    spec = twins_spec(
        source,
        twins.name,
        twins.inputs,
        dict(twins.args),
        dropout_rate_argument(twins),
        has_batch_norm(twins.torch(**twins.args)),
    )
    return dataclasses.replace(spec, declared=twins)


def extra_torch_biases(module: torch.nn.Module) -> int:
    """torch's LSTM keeps a second bias per gate (bias_hh), only ever summed with bias_ih."""
    return sum(m.bias_hh_l0.numel() for m in module.modules() if isinstance(m, torch.nn.LSTM) and m.bias)


def check_counts(keras_model: keras.Model, torch_model: torch.nn.Module) -> Check:
    keras_counts, torch_counts = keras_param_counts(keras_model), torch_param_counts(torch_model)
    extra = extra_torch_biases(torch_model)
    keras_text, torch_text = (f"{a:,} trainable / {b:,} not" for a, b in (keras_counts, torch_counts))
    detail = f"Keras {keras_text}; torch {torch_text}"
    if extra:
        detail += f"; torch's second LSTM bias adds {extra:,}"
    if has_batch_norm(torch_model):
        detail += "; BatchNorm statistics: Keras' non-trainable weights, torch's buffers (counted here)"
    passed = (torch_counts[0] - extra, torch_counts[1]) == keras_counts
    return Check("parameters", passed, detail if passed else f"{detail}: unexplained difference")


LATER_CHECKS = ("weights port", "forward parity", "one-step parity")


def check_port(spec: ModelSpec, keras_model: keras.Model, torch_model: torch.nn.Module) -> Check:
    """Port torch's weights into Keras. Weights that do not fit fail the check; a layer type
    with no port raises UnportableLayer (the twins cannot be compared until it has one)."""
    state = torch_to_state(torch_model, parity.example(spec))
    try:
        state_to_keras(state, keras_model)
    except UnportableLayer:
        raise
    except PortingError as error:
        return Check("weights port", False, str(error))
    parts = list(weighted_parts(keras_model))
    by_name = all(prefix == path for path, prefix in match(parts, state).items())
    detail = f"{len(parts)} layers with weights, matched by {'name' if by_name else 'order'}"
    for path, chw in layouts(state).items():
        detail += f"; {path}: rows permuted, flattened from (C, H, W) = {tuple(int(n) for n in chw)}"
    return Check("weights port", True, detail)


def check_outputs(spec: ModelSpec, keras_model, torch_model, images: np.ndarray) -> Check:
    keras_shape = tuple(keras_model(spec.model_inputs(images, KERAS), training=False).shape)
    with torch.no_grad():
        torch_shape = tuple(torch_model.eval()(spec.model_inputs(torch.from_numpy(images), TORCH)).shape)
    return Check("output shapes", keras_shape == torch_shape, f"Keras {keras_shape}, torch {torch_shape}")


def check_forward(spec: ModelSpec, images: np.ndarray) -> Check:
    """The logits at step 0; when they differ, the known framework difference that explains it."""
    result = parity.inference_parity(spec, images)
    detail = f"largest logit difference {result['max_abs_logit_diff']:.1e} (tolerance {result['tolerance']:.0e})"
    if not result["passed"]:
        measure = partial(parity.inference_parity, spec, images, 0)
        detail += "; " + suspects.explain(measure, suspects.forward_suspects(spec))
    return Check("forward parity", result["passed"], detail)


def one_step_parity(spec: ModelSpec, images: np.ndarray, labels: np.ndarray, adjust=None) -> dict:
    """The built-in one-step parity, and BatchNorm's running means after the step (their
    momentum convention differs between the frameworks; they agree to ~1e-8 when it is set)."""
    result = parity.training_parity(spec, images, labels, adjust=adjust, with_adam=False)  # SGD decides
    moved = result.get("bn_running_mean_max_abs_diff", 0.0)
    return {**result, "passed": result["passed"] and moved <= parity.LOGIT_TOLERANCE}


def check_one_step(spec: ModelSpec, twins: Twins, images: np.ndarray, labels: np.ndarray) -> Check:
    torch_model = twins.torch(**twins.args)
    if not spec.has_dropout and any(isinstance(m, torch.nn.Dropout) for m in torch_model.modules()):
        return Check(
            "one-step parity",
            False,
            "the twins use dropout and take no `dropout_rate` argument to switch it off: "
            "each framework draws its own masks, so one step cannot match. Add `dropout_rate`.",
        )
    result = one_step_parity(spec, images, labels)
    detail = (
        f"SGD: loss difference {result['loss_diff']:.1e}, weights within {result['sgd_relative_weight_diff']:.1e} "
        f"of the largest update (tolerance {result['tolerance']:.0e})"
    )
    if "bn_running_mean_max_abs_diff" in result:
        detail += f", BatchNorm running means within {result['bn_running_mean_max_abs_diff']:.1e}"
    if not result["passed"]:
        measure = partial(one_step_parity, spec, images, labels)
        detail += "; " + suspects.explain(measure, suspects.step_suspects(spec))
    return Check("one-step parity", result["passed"], detail)


def sample_batch() -> tuple[np.ndarray, np.ndarray]:
    data = load_sample()
    return unit_interval(data.x_test[:BATCH]), data.y_test[:BATCH].astype(np.int64)


def check_twins(twins: Twins | str, images: np.ndarray | None = None, labels: np.ndarray | None = None) -> TwinsReport:
    """Every check on `twins` (or the reference `path/to/file.py[:name]`), on 32 sample digits
    unless given (B, 28, 28) float images in [0, 1] and their labels. Raises TwinsError when
    the reference cannot be loaded, UnportableLayer when a layer type has no port."""
    source = twins if isinstance(twins, str) else ""
    twins = load_twins(twins) if isinstance(twins, str) else twins
    if images is None:
        images, labels = sample_batch()
    report = TwinsReport(twins.name, keras.backend.backend())
    report.checks.append(check_signatures(twins))
    spec = spec_of(twins, source)
    torch.manual_seed(0)
    torch_model, keras_model = spec.make(TORCH), spec.make(KERAS)
    build_model(keras_model, spec.input_shape(KERAS))
    report.checks.append(check_outputs(spec, keras_model, torch_model, images[:2]))
    report.checks.append(check_counts(keras_model, torch_model))
    if report.checks[-2].passed:
        report.checks.append(check_port(spec, keras_model, torch_model))
    if report.checks[-1].name == "weights port" and report.checks[-1].passed:
        report.checks.append(check_forward(spec, images))
        report.checks.append(check_one_step(spec, twins, images, labels))
    ran = {check.name for check in report.checks}
    report.checks += [
        Check(name, False, "not run: an earlier check failed") for name in LATER_CHECKS if name not in ran
    ]
    return report


def describe(reference: str) -> dict:
    """What the harness's parent needs of a reference (twins_spec's arguments), after checking
    that the twins build and their weights port."""
    twins = load_twins(reference)
    spec = spec_of(twins, resolved(reference))
    torch_model, keras_model = spec.make(TORCH), spec.make(KERAS)
    build_model(keras_model, spec.input_shape(KERAS))
    ported = check_port(spec, keras_model, torch_model)
    if not ported.passed:
        raise PortingError(f"the twins' weights do not port: {ported.detail} Run check-twins for every check.")
    return {
        "source": spec.source,
        "name": spec.name,
        "inputs": spec.inputs,
        "args": spec.args,
        "has_dropout": spec.has_dropout,
        "has_batch_norm": spec.has_batch_norm,
    }


def refused(error: Exception) -> dict:
    """A reference the harness cannot use: the user's input is at fault (exit 2)."""
    return {"refused": str(error)}


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("check", "describe"):
        print(
            "usage: python -m compare.lessons.twins_check RESULT.json check|describe REFERENCE [...]", file=sys.stderr
        )
        return 2
    out, command, references = Path(argv[0]), argv[1], argv[2:]
    try:
        if command == "describe":
            result = {"twins": [describe(reference) for reference in references]}
        else:
            report = check_twins(references[0])
            result = {"backend": report.backend, "checks": [vars(check) for check in report.checks]}
    except (TwinsError, PortingError) as error:  # the input is at fault: exit 2
        result = refused(error)
    except Exception as error:  # the user's own code raised: shown with where, as a failed check
        result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-3000:]}
    write_json_atomic(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
