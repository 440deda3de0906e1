"""Classifier metrics and the evaluation plots logged with every training run."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve  # noqa: E402


def binary_metrics(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    pred = score >= threshold
    tp = float(np.sum(pred & (y == 1)))
    return {
        "roc_auc": float(roc_auc_score(y, score)) if len(set(y)) > 1 else float("nan"),
        "pr_auc": float(average_precision_score(y, score)) if len(set(y)) > 1 else float("nan"),
        "precision": tp / max(1.0, float(pred.sum())),
        "recall": tp / max(1.0, float((y == 1).sum())),
        "positives": float((y == 1).sum()),
        "rows": float(len(y)),
    }


def png(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes (for the Dagster UI and the report)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def figures(y: np.ndarray, score: np.ndarray, importance: dict[str, float]) -> dict[str, plt.Figure]:
    """ROC, PR, calibration and feature importance, as matplotlib figures by file name."""
    out = {}
    fig, ax = plt.subplots(figsize=(5, 4))
    fpr, tpr, _ = roc_curve(y, score)
    ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(y, score):.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend()
    out["roc.png"] = fig
    fig, ax = plt.subplots(figsize=(5, 4))
    p, r, _ = precision_recall_curve(y, score)
    ax.plot(r, p, label=f"AP {average_precision_score(y, score):.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend()
    out["pr.png"] = fig
    fig, ax = plt.subplots(figsize=(5, 4))
    frac, mean = calibration_curve(y, score, n_bins=10, strategy="quantile")
    ax.plot(mean, frac, "o-")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="mean predicted", ylabel="observed share", title="Calibration")
    out["calibration.png"] = fig
    fig, ax = plt.subplots(figsize=(6, max(3, 0.25 * len(importance))))
    items = sorted(importance.items(), key=lambda kv: kv[1])
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set(title="Feature importance (gain)")
    fig.tight_layout()
    out["feature_importance.png"] = fig
    return out


def close(figs: dict) -> None:
    for fig in figs.values():
        plt.close(fig)
