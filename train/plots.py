"""PNG plots of a run's metrics (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_metrics"]


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_metrics(metrics: list[dict], folder: str | Path) -> list[Path]:
    """Write accuracy+loss, FF ratio and saturation plots; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not metrics:
        return []
    ep = [m["epoch"] for m in metrics]
    written = []

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(ep, [m["train_acc"] for m in metrics], label="train")
    a1.plot(ep, [m["test_acc"] for m in metrics], label="test")
    a1.set_xlabel("epoch")
    a1.set_ylabel("accuracy")
    a1.legend()
    a2.plot(ep, [m["train_loss"] for m in metrics], label="train loss")
    if "test_loss" in metrics[0]:
        a2.plot(ep, [m["test_loss"] for m in metrics], label="test loss")
    a2.set_xlabel("epoch")
    a2.set_ylabel("cross-entropy")
    a2.legend()
    written.append(_save(fig, folder / "accuracy_loss.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ep, [m["ff_ratio"] for m in metrics], label="FF ratio")
    ax.plot(ep, [m["c2i_ratio"] for m in metrics], label="C2I ratio")
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_xlabel("epoch")
    ax.legend()
    written.append(_save(fig, folder / "ff_ratio.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    layers = len(metrics[0].get("saturation_layers", []))
    for i in range(layers):
        ax.plot(ep, [m["saturation_layers"][i] for m in metrics], label=f"act {i}")
    ax.plot(ep, [m["saturation"] for m in metrics], "k--", label="all")
    ax.set_xlabel("epoch")
    ax.set_ylabel("fraction |a| > 1")
    ax.legend()
    written.append(_save(fig, folder / "saturation.png"))
    return written
