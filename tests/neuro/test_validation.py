"""Bad input to neurons, functional forms, encoders and layers: a ValueError/TypeError naming the problem."""

import pytest
import torch
from torch import nn

import neuro
from neuro import encoders
from neuro import functional as F

NEURONS = [neuro.IF, neuro.LIF, neuro.ParametricLIF, neuro.ALIF, neuro.CubaLIF]
MULTI_STEP = [
    (F.if_multi_step, F.IFParameters()),
    (F.lif_multi_step, F.LIFParameters()),
    (F.plif_multi_step, F.ParametricLIFParameters(w=torch.tensor(0.0))),
    (F.alif_multi_step, F.ALIFParameters()),
    (F.cuba_lif_multi_step, F.CubaLIFParameters()),
]


@pytest.mark.parametrize("cls", NEURONS)
def test_multi_step_needs_rank_two(cls):
    with pytest.raises(
        ValueError, match=r"multi-step mode must have shape \[T, B, \.\.\.\].*got shape \(3,\)"
    ):
        cls()(torch.ones(3))


@pytest.mark.parametrize("cls", NEURONS)
def test_single_step_rejects_a_scalar(cls):
    with pytest.raises(ValueError, match="single-step mode must have shape"):
        cls(step_mode="s")(torch.tensor(1.0))


@pytest.mark.parametrize("cls", NEURONS)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.uint8])
def test_integer_input_is_a_type_error(cls, dtype):
    with pytest.raises(TypeError, match=f"floating-point tensor.*got {dtype}"):
        cls()(torch.ones(2, 3, dtype=dtype))


@pytest.mark.parametrize("cls", NEURONS)
def test_non_tensor_input_is_a_type_error(cls):
    with pytest.raises(TypeError, match="must be a torch.Tensor, got list"):
        cls()([[1.0, 2.0]])


@pytest.mark.parametrize("cls", NEURONS)
def test_zero_time_steps(cls):
    with pytest.raises(ValueError, match="T=0 time steps"):
        cls()(torch.ones(0, 2))


@pytest.mark.parametrize("cls", NEURONS)
def test_state_shape_mismatch_names_both_shapes(cls):
    n = cls()
    n(torch.ones(4, 2, 3))
    with pytest.raises(
        ValueError, match=r"has shape \(2, 3\) but one input step has shape \(5, 3\).*neuro.reset"
    ):
        n(torch.ones(4, 5, 3))
    neuro.reset(n)
    assert n(torch.ones(4, 5, 3)).shape == (4, 5, 3)


@pytest.mark.parametrize("fn, p", MULTI_STEP)
def test_functional_forms_check_their_input(fn, p):
    with pytest.raises(ValueError, match="T=0"):
        fn(torch.ones(0, 2), None, p)
    with pytest.raises(ValueError, match="rank >= 2"):
        fn(torch.ones(3), None, p)
    with pytest.raises(TypeError, match="floating-point"):
        fn(torch.ones(3, 2, dtype=torch.long), None, p)
    _, state = fn(torch.ones(3, 2), None, p)
    with pytest.raises(ValueError, match=r"state\.v has shape \(2,\) but one input step has shape \(4,\)"):
        fn(torch.ones(3, 4), state, p)


def test_state_that_is_not_a_tensor():
    with pytest.raises(TypeError, match="state.v must be a tensor, got float"):
        F.lif_step(torch.ones(2), F.LIFState(0.0), F.LIFParameters())


@pytest.mark.parametrize("name", ["tau", "v_threshold"])
@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_non_positive_tau_or_threshold(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be positive and finite"):
        neuro.LIF(**{name: bad})


@pytest.mark.parametrize(
    "cls, name", [(neuro.ALIF, "tau_adapt"), (neuro.CubaLIF, "tau_syn"), (neuro.IF, "v_threshold")]
)
def test_non_positive_time_constants_of_other_neurons(cls, name):
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        cls(**{name: 0.0})


@pytest.mark.parametrize("tau", [1.0, 0.5, -2.0])
def test_parametric_lif_needs_tau_above_one(tau):
    with pytest.raises(ValueError, match="tau"):
        neuro.ParametricLIF(tau=tau)


def test_non_numeric_parameters_are_type_errors():
    with pytest.raises(TypeError, match="tau must be a number, got str"):
        neuro.LIF(tau="2")
    with pytest.raises(TypeError, match="v_reset must be a number, got str"):
        neuro.LIF(v_reset="zero")
    with pytest.raises(TypeError, match="surrogate must be a neuro.surrogate.Surrogate, got str"):
        neuro.LIF(surrogate="atan")
    with pytest.raises(TypeError, match="one-element tensor"):
        F.ParametricLIFParameters(w=0.5)


@pytest.mark.parametrize("cls", NEURONS)
def test_unknown_backend_and_step_mode(cls):
    with pytest.raises(
        ValueError, match=r"backend must be one of \('torch', 'cpu', 'cupy', 'auto'\), got 'gpu'"
    ):
        cls(backend="gpu")
    with pytest.raises(ValueError, match="step_mode must be 's' .* or 'm' .*, got 'multi'"):
        cls(step_mode="multi")


def test_functional_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        F.lif_multi_step(torch.ones(2, 3), None, F.LIFParameters(), backend="fast")


@pytest.mark.parametrize("cls", NEURONS)
def test_non_finite_input_is_reported(cls):
    x = torch.ones(5, 2, 3)
    x[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        cls()(x)
    x[1, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        cls()(x)


def test_encoders_reject_bad_input():
    with pytest.raises(ValueError, match=r"intensities in \[0, 1\]"):
        encoders.poisson(torch.tensor([0.5, 1.5]), 4)
    with pytest.raises(ValueError, match=r"intensities in \[0, 1\]"):
        encoders.latency(torch.tensor([-0.1]), 4)
    with pytest.raises(ValueError, match="T must be >= 1"):
        encoders.direct(torch.ones(2), 0)
    with pytest.raises(TypeError, match="T must be an int, got float"):
        encoders.poisson(torch.ones(2), 4.0)
    with pytest.raises(TypeError, match="floating-point"):
        encoders.direct(torch.ones(2, dtype=torch.long), 3)
    with pytest.raises(ValueError, match=r"delta encoding needs a sequence \[T, B, \.\.\.\]"):
        encoders.delta(torch.ones(3))
    with pytest.raises(ValueError, match="threshold must be positive"):
        encoders.delta(torch.ones(3, 2), threshold=0.0)
    with pytest.raises(ValueError, match="T must be >= 1"):
        encoders.PoissonEncoder(0)


def test_layers_and_monitor_reject_bad_input():
    with pytest.raises(ValueError, match=r"TimeDistributed needs \[T, B, \.\.\.\]"):
        neuro.TimeDistributed(nn.Linear(2, 2))(torch.ones(2))
    with pytest.raises(ValueError, match="no spiking neuron layers"):
        neuro.Monitor(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"not spiking layers of this model: \['0'\]"):
        neuro.Monitor(nn.Sequential(nn.Linear(2, 2), neuro.LIF()), layers=["0"])
