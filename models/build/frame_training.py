"""The training loop the frame models' build scripts share (``drums.py``, ``beats.py``): random crops of
``(log_mel (T, n_mels), targets (T, k))`` pairs, AdamW with a one-cycle schedule, the epoch of the lowest
validation loss kept (the last epoch without a validation set). Build-only, like the scripts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def train_frames(model, loss_fn, train_set, val_set, *, epochs: int, crop_frames: int, batch: int, lr: float, seed: int = 0,
                 keep_last_epoch: bool = False, log=print) -> tuple[dict[str, np.ndarray], dict]:
    """Train the torch ``model`` (input ``(B, n_mels, T)``, output ``(B, k, T)``) with ``loss_fn(outputs, targets)``
    on crops of ``crop_frames`` frames, ``batch`` per step, pieces drawn by length; returns the state (numpy
    arrays) of the epoch with the lowest validation loss, or of the last epoch without a validation set or with
    ``keep_last_epoch``, and the metrics (``history``, ``best_val_loss``: None without a validation set)."""
    import torch

    rng = np.random.default_rng(seed)
    total = sum(len(t) for _, t in train_set)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = max(1, total // (crop_frames * batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    lengths = np.array([len(t) for _, t in train_set], dtype=np.float64)

    def crops():
        xs, ys = [], []
        for k in rng.choice(len(train_set), batch, p=lengths / lengths.sum()):
            spec, target = train_set[k]
            a = int(rng.integers(0, max(1, len(spec) - crop_frames)))
            x, y = spec[a : a + crop_frames], target[a : a + crop_frames]
            if len(x) < crop_frames:
                x = np.pad(x, ((0, crop_frames - len(x)), (0, 0)), mode="edge")
                y = np.pad(y, ((0, crop_frames - len(y)), (0, 0)))
            xs.append(x.T)
            ys.append(y.T)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))

    def val_loss() -> float | None:
        if not val_set:
            return None
        model.eval()
        with torch.no_grad():
            losses = [float(loss_fn(model(torch.from_numpy(s.T[None])), torch.from_numpy(t.T[None]))) for s, t in val_set]
        model.train()
        return float(np.mean(losses))

    best, best_state, history = np.inf, None, []
    for epoch in range(epochs):
        t0, running = time.time(), 0.0
        for _ in range(steps_per_epoch):
            x, y = crops()
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach())
        v = val_loss()
        history.append({"epoch": epoch, "train_loss": running / steps_per_epoch, "val_loss": v})
        log(f"epoch {epoch}: train loss {running / steps_per_epoch:.4f}, validation loss {v if v is None else f'{v:.4f}'} ({time.time() - t0:.0f} s)")
        improved = v is not None and v < best
        best = v if improved else best
        by_validation = v is not None and not keep_last_epoch
        if (improved and by_validation) or (not by_validation and epoch == epochs - 1):
            best_state = {k: t.detach().cpu().numpy().copy() for k, t in model.state_dict().items() if t.dtype.is_floating_point}
    return best_state, {"history": history, "best_val_loss": best if val_set else None}


def save_model(out: Path, state: dict[str, np.ndarray], config) -> None:
    """Write a model folder: ``model.safetensors`` (float32) and ``config.json`` (the pydantic ``config``, with its provenance)."""
    from safetensors.numpy import save_file

    from mvgen.classify.checkpoints import CONFIG_NAME, WEIGHTS_NAME

    out.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}, str(out / WEIGHTS_NAME))
    (out / CONFIG_NAME).write_text(json.dumps(config.model_dump(), indent=2) + "\n")
