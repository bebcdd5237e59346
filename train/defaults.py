"""Every training default, once: the optimizers' hyperparameters and the run's settings.

Read by the CLI's help texts (train/cli.py), the config builder (train/api.py), TrainConfig
(train/loop.py) and the optimizers themselves (train/optimizers.py). No torch import, so that
`xnorflow --help` stays fast.
"""

from __future__ import annotations

# per optimizer: the hyperparameters it has and their defaults. lr is the latent weights' rate
# (adam, sgd), or Adam's rate for the real-valued parameters (filter, bop).
OPTIMIZER_DEFAULTS: dict[str, dict[str, float | str]] = {
    "filter": {"lr": 1e-2, "weight_decay": 0.0, "alpha": 1e-3, "gamma": 1e-2,
               "alpha_decay": "cosine"},
    "bop": {"lr": 1e-2, "weight_decay": 0.0, "gamma": 1e-4, "tau": 1e-8},
    "adam": {"lr": 1e-2, "weight_decay": 0.0},
    "sgd": {"lr": 0.1, "weight_decay": 1e-4, "momentum": 0.9},
}
DEFAULT_OPTIMIZER = "filter"
DEFAULT_MULTIBIT_OPTIMIZER = "adam"  # filter and bop train 1-bit weights only
TWO_STEP_WEIGHT_DECAY = 5e-6  # step 1 of the two-step recipe (Liu et al.)
TWO_STEP_STEP1_LR = 1e-2  # step 1's Adam rate when step 2 is not Adam
RUN_DEFAULTS = {"model": "tfc", "dataset": "digits", "recipe": "one-step", "epochs": 10,
                "batch_size": 100, "seed": 0, "bias_init": 0.0, "augment": "auto", "shift": 1,
                "jitter": 0.0}


def hyper(optimizer: str, name: str) -> float | str:
    """The default of hyperparameter `name` for `optimizer` (the filter's for names it has)."""
    table = OPTIMIZER_DEFAULTS.get(optimizer, {})
    if name in table:
        return table[name]
    for opt in ("filter", "bop", "sgd"):  # the optimizers that own alpha/gamma, tau, momentum
        if name in OPTIMIZER_DEFAULTS[opt]:
            return OPTIMIZER_DEFAULTS[opt][name]
    raise KeyError(name)
