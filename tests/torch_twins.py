"""What the tests of the numpy frame models (drums, beats) share with their torch twins."""

from __future__ import annotations

import numpy as np


def randomize_state(model, rng: np.random.Generator, scale: float = 0.5) -> None:
    """Random weights (normal, ``scale``) and BatchNorm statistics, so that folding the norms is really tested."""
    import torch

    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.dtype.is_floating_point:
                continue
            if name.endswith("running_var"):
                t.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, t.shape).astype(np.float32)))
            else:
                t.copy_(torch.from_numpy(rng.normal(0, scale, t.shape).astype(np.float32)))
