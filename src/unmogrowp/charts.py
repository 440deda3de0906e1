"""Pictures of the marts: pure functions from DataFrames (or arrays) to PNG bytes.

Every chart is drawn on its own ``matplotlib.figure.Figure`` with the Agg canvas (pyplot and its
global state are never used), 900 × 450 px at 100 dpi, and is deterministic: the same input gives
the same bytes. Empty input (None, no rows, only NULL values) gives a figure that says "no data"
instead of raising; a non-empty frame without the columns a chart needs is a caller's bug
(ValueError). ``markdown_image`` / ``data_uri`` embed a PNG in Dagster markdown metadata or HTML.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 9.0, 4.5, 100  # 900 × 450 px
NO_DATA = "no data"
# one colour per attribution status (SPEC §2), the same in every chart
STATUS_COLORS = {"attributed": "#2b6cb0", "organic": "#a0aec0", "rejected_fraud": "#c53030",
                 "rejected_targeting": "#dd6b20"}
STATUS_ORDER = tuple(STATUS_COLORS)
# rule-based models first, then the data-driven ones (fct_touch_credits' models)
MODEL_ORDER = ("last_touch", "first_touch", "linear", "position_based", "time_decay", "markov", "shapley")
_PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#c53030", "#805ad5", "#d69e2e", "#319795", "#d53f8c", "#4a5568",
            "#718096")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- plumbing -----------------------------------------------------------------------------------
def _figure(ncols: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # no bbox_inches="tight": the size stays exactly 900 × 450; no metadata that could vary
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _no_data(title: str, message: str = NO_DATA) -> bytes:
    fig, (ax,) = _figure()
    ax.set_axis_off()
    ax.set_title(title, fontsize=13, fontweight="bold")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=18, color="#718096", transform=ax.transAxes)
    return _png(fig)


def _frame(df: pd.DataFrame | None, columns: Sequence[str], chart: str, required: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of ``df`` whose ``required`` columns are all set (empty frame: nothing to draw)."""
    if df is None or len(df) == 0:
        return pd.DataFrame(columns=list(columns))
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{chart}: missing columns {missing} (has {list(df.columns)})")
    return df.dropna(subset=list(required)) if required else df


def _labels(values: Iterable) -> list[str]:
    return ["(none)" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """The distinct ``values``, those in ``preferred`` first in its order, then the rest sorted."""
    present = list(dict.fromkeys(values))
    return [v for v in preferred if v in present] + sorted(v for v in present if v not in preferred)


def _style(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=13, fontweight="bold")
    ax.set_xlabel(xlabel, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.grid(axis="y", color="#e2e8f0", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def is_png(data: bytes) -> bool:
    return isinstance(data, bytes | bytearray) and data[:8] == _PNG_MAGIC


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,…`` for an <img src>."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def markdown_image(png: bytes, alt: str) -> str:
    """``![alt](data:image/png;base64,…)``: Dagster's UI renders it in markdown metadata."""
    alt = " ".join(str(alt).replace("[", "(").replace("]", ")").split())
    return f"![{alt}]({data_uri(png)})"


# -- charts -------------------------------------------------------------------------------------
def retention_heatmap(df: pd.DataFrame | None, title: str = "Classic retention by install cohort",
                      annotate_max_cells: int = 240) -> bytes:
    """Rows install_date, columns day_n, colour the classic retention share (0..1). NULL cells
    (immature days) stay light grey; values are written in the cells when the grid is small.
    One row per (install_date, day_n) is expected (duplicates are averaged)."""
    d = _frame(df, ("install_date", "day_n", "retention"), "retention_heatmap", ("install_date", "day_n"))
    if d.empty:
        return _no_data(title)
    d = d.assign(day_n=d["day_n"].astype(int), retention=pd.to_numeric(d["retention"], errors="coerce"))
    grid = d.groupby(["install_date", "day_n"])["retention"].mean().unstack("day_n").sort_index()
    grid = grid.reindex(columns=sorted(grid.columns))
    values = grid.to_numpy(dtype=float)
    if np.isnan(values).all():
        return _no_data(title, "no mature retention cells yet")
    fig, (ax,) = _figure()
    masked = np.ma.masked_invalid(values)
    top = max(float(np.nanmax(values)), 1e-9)
    cmap = _cmap("Blues")
    image = ax.imshow(masked, aspect="auto", cmap=cmap, norm=Normalize(0, top), interpolation="nearest")
    ax.set_xticks(range(len(grid.columns)), [str(c) for c in grid.columns], fontsize=8)
    rows = [str(pd.Timestamp(r).date()) if not isinstance(r, str) else r for r in grid.index]
    step = max(1, len(rows) // 16)
    ax.set_yticks(range(0, len(rows), step), rows[::step], fontsize=8)
    ax.set_title(title, fontsize=13, fontweight="bold")
    ax.set_xlabel("days since install (day_n)", fontsize=10)
    ax.set_ylabel("install date", fontsize=10)
    if values.size <= annotate_max_cells:
        for (i, j), v in np.ndenumerate(values):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.55 * top else "#1a202c")
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.01, format=_percent_formatter())
    bar.set_label("retained (share of cohort)", fontsize=9)
    ax.text(1.0, -0.12, "grey: not yet mature", transform=ax.transAxes, ha="right", va="top", fontsize=8,
            color="#718096")
    return _png(fig)


def installs_by_network(df: pd.DataFrame | None, title: str = "Installs by network and attribution status",
                        top: int = 12) -> bytes:
    """Stacked bars: one bar per network (a NULL network is 'organic'), stacked by attribution
    status, networks by total installs (the ``top`` largest; the rest as 'other')."""
    d = _frame(df, ("network", "status", "installs"), "installs_by_network", ("installs",))
    if d.empty or float(d["installs"].sum()) <= 0:
        return _no_data(title)
    d = d.assign(network=d["network"].where(d["network"].notna(), "organic").astype(str),
                 status=_labels(d["status"]), installs=d["installs"].astype(float))
    totals = d.groupby("network")["installs"].sum().sort_values(ascending=False, kind="stable")
    totals = totals.loc[sorted(totals.index, key=lambda n: (-totals[n], n))]
    keep = list(totals.index[:top])
    if len(totals) > top:
        d = d.assign(network=d["network"].where(d["network"].isin(keep), "other"))
        keep.append("other")
    table = d.pivot_table(index="network", columns="status", values="installs", aggfunc="sum", fill_value=0.0)
    table = table.reindex(index=keep, columns=ordered(table.columns, STATUS_ORDER), fill_value=0.0)
    fig, (ax,) = _figure()
    x = np.arange(len(table.index))
    bottom = np.zeros(len(x))
    for k, status in enumerate(table.columns):
        heights = table[status].to_numpy(dtype=float)
        ax.bar(x, heights, bottom=bottom, label=status, width=0.7,
               color=STATUS_COLORS.get(status, _PALETTE[(k + 4) % len(_PALETTE)]))
        bottom += heights
    for xi, total in zip(x, bottom, strict=True):
        ax.text(xi, total, f"{total:,.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, list(table.index), rotation=30 if len(x) > 6 else 0, ha="right" if len(x) > 6 else "center",
                  fontsize=9)
    ax.set_ylim(0, bottom.max() * 1.12)
    _style(ax, title, "network (media_source)", "installs")
    ax.legend(title="status", fontsize=8, title_fontsize=9, frameon=False)
    return _png(fig)


def roas_curves(df: pd.DataFrame | None, title: str = "ROAS by days since install", top: int = 8) -> bytes:
    """One line per campaign: ROAS_N (cumulative revenue / cost) by day_n, the ``top`` campaigns
    by spend when the frame has a ``spend`` column (else by their latest ROAS), with the
    break-even line ROAS = 1. NULL ROAS (immature days) leave the line open."""
    d = _frame(df, ("campaign", "day_n", "roas"), "roas_curves", ("campaign", "day_n"))
    d = d.assign(roas=pd.to_numeric(d["roas"], errors="coerce")) if not d.empty else d
    if d.empty or d["roas"].isna().all():
        return _no_data(title)
    d = d.assign(campaign=d["campaign"].astype(str), day_n=d["day_n"].astype(int))
    if "spend" in d.columns:
        rank = d.groupby("campaign")["spend"].max().fillna(0.0)
    else:
        rank = d.dropna(subset=["roas"]).sort_values("day_n").groupby("campaign")["roas"].last()
    campaigns = sorted(rank.index, key=lambda c: (-float(rank[c]), c))[:top]
    fig, (ax,) = _figure()
    for k, campaign in enumerate(campaigns):
        line = d[d["campaign"] == campaign].groupby("day_n")["roas"].mean().sort_index()
        label = campaign if "spend" not in d.columns else f"{campaign} (spend {float(rank[campaign]):,.0f})"
        ax.plot(line.index, line.to_numpy(dtype=float), marker="o", markersize=3, linewidth=1.6,
                color=_PALETTE[k % len(_PALETTE)], label=label)
    ax.axhline(1.0, color="#c53030", linestyle="--", linewidth=1, label="break-even (ROAS 1)")
    ax.set_ylim(bottom=0)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ranked = "by spend" if "spend" in d.columns else "by latest ROAS"
    _style(ax, f"{title} (top {len(campaigns)} campaigns {ranked})", "days since install (day_n)",
           "ROAS (cumulative revenue / cost)")
    ax.legend(fontsize=8, frameon=False, loc="best", ncols=2 if len(campaigns) > 5 else 1)
    return _png(fig)


def ctit_by_site(df: pd.DataFrame | None, injection_s: float, flooding_s: float,
                 title: str = "CTIT distribution by site", top: int = 6) -> bytes:
    """Histogram of click-to-install time (seconds, log x) per sub-publisher site, the ``top``
    sites by installs, with the click-injection region (CTIT < ``injection_s``) and the
    click-flooding region (CTIT > ``flooding_s``) shaded and labelled. CTIT below 1 s is drawn
    at 1 s (log axis)."""
    d = _frame(df, ("site_id", "ctit_s"), "ctit_by_site", ("ctit_s",))
    if d.empty:
        return _no_data(title)
    d = d.assign(site_id=_labels(d["site_id"]), ctit_s=pd.to_numeric(d["ctit_s"], errors="coerce"))
    d = d.dropna(subset=["ctit_s"])
    if d.empty:
        return _no_data(title)
    counts = d["site_id"].value_counts()
    sites = sorted(counts.index, key=lambda s: (-int(counts[s]), s))[:top]
    hi = max(float(d["ctit_s"].max()), flooding_s * 4, 10.0)
    bins = np.logspace(0, np.log10(hi * 1.05), 48)
    fig, (ax,) = _figure()
    ax.set_xscale("log")
    ax.axvspan(bins[0], injection_s, color="#c53030", alpha=0.12, linewidth=0)
    ax.axvspan(flooding_s, bins[-1], color="#dd6b20", alpha=0.12, linewidth=0)
    peak = 0
    for k, site in enumerate(sites):
        raw = d.loc[d["site_id"] == site, "ctit_s"].to_numpy(dtype=float)
        heights, _ = np.histogram(np.clip(raw, 1.0, None), bins=bins)
        peak = max(peak, int(heights.max()))
        ax.stairs(heights, bins, linewidth=1.6, color=_PALETTE[k % len(_PALETTE)],
                  label=f"{site} ({len(raw):,}: {np.mean(raw < injection_s):.0%} injection, "
                        f"{np.mean(raw > flooding_s):.0%} flooding)")
    ax.set_xlim(bins[0], bins[-1])
    ax.set_ylim(0, max(peak, 1) * (1.25 + 0.12 * len(sites)))  # headroom for the legend and the labels
    ax.axvline(injection_s, color="#c53030", linewidth=1)
    ax.axvline(flooding_s, color="#dd6b20", linewidth=1)
    ax.text(np.sqrt(bins[0] * injection_s), 0.97, f"click injection\n(short CTIT < {duration_text(injection_s)})",
            transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8, color="#9b2c2c")
    ax.text(np.sqrt(flooding_s * bins[-1]), 0.97, f"click flooding\nCTIT > {duration_text(flooding_s)}",
            transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8, color="#9c4221")
    _style(ax, f"{title} (top {len(sites)} sites by installs)", "CTIT: install time − click time (seconds, log)",
           "installs")
    ax.legend(title="site (installs: share in each region)", fontsize=8, title_fontsize=9, frameon=False,
              loc="upper center")
    return _png(fig)


def roc_pr(y_true, y_score, title: str = "Fraud model") -> bytes:
    """Two panels: the ROC curve with its AUC and the precision-recall curve with its average
    precision (scikit-learn), each with its chance level. Needs both classes in ``y_true``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    y = np.asarray([] if y_true is None else y_true, dtype=float).ravel()
    s = np.asarray([] if y_score is None else y_score, dtype=float).ravel()
    if len(y) != len(s):
        raise ValueError(f"roc_pr: {len(y)} labels but {len(s)} scores")
    ok = ~(np.isnan(y) | np.isnan(s))
    y, s = y[ok].astype(int), s[ok]
    if len(y) == 0:
        return _no_data(title)
    if len(np.unique(y)) < 2:
        return _no_data(title, f"no data: only one class in {len(y):,} labels (ROC needs both)")
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    auc, ap, base = roc_auc_score(y, s), average_precision_score(y, s), float(y.mean())
    fig, (left, right) = _figure(2)
    left.plot(fpr, tpr, color=_PALETTE[0], linewidth=1.8, label=f"model (AUC {auc:.3f})")
    left.plot([0, 1], [0, 1], color="#a0aec0", linestyle="--", linewidth=1, label="chance (AUC 0.5)")
    _style(left, f"{title}: ROC (AUC {auc:.3f})", "false positive rate", "true positive rate")
    right.plot(recall, precision, color=_PALETTE[1], linewidth=1.8, drawstyle="steps-post",
               label=f"model (AP {ap:.3f})")
    right.axhline(base, color="#a0aec0", linestyle="--", linewidth=1, label=f"chance (positives {base:.1%})")
    _style(right, f"Precision-recall (AP {ap:.3f})", "recall", "precision")
    for ax in (left, right):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8, frameon=False, loc="lower right" if ax is left else "lower left")
    return _png(fig)


def feature_importance(names, values, top: int = 15, title: str = "Feature importance",
                       xlabel: str = "importance") -> bytes:
    """Horizontal bars of the ``top`` features by absolute importance, the largest on top."""
    n = list(names) if names is not None else []
    v = np.asarray([] if values is None else list(values), dtype=float)
    if len(n) != len(v):
        raise ValueError(f"feature_importance: {len(n)} names but {len(v)} values")
    keep = ~np.isnan(v)
    pairs = sorted(zip([str(x) for x, k in zip(n, keep, strict=True) if k], v[keep], strict=True),
                   key=lambda p: (-abs(p[1]), p[0]))[:top]
    if not pairs:
        return _no_data(title)
    labels = [p[0] for p in pairs][::-1]
    heights = np.array([p[1] for p in pairs][::-1])
    fig, (ax,) = _figure()
    ax.barh(np.arange(len(labels)), heights, color=[_PALETTE[0] if h >= 0 else _PALETTE[3] for h in heights])
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=8)
    _style(ax, f"{title} (top {len(labels)})", xlabel, "feature")
    ax.grid(axis="x", color="#e2e8f0", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    return _png(fig)


def mape(predicted, actual) -> float:
    """Mean absolute percentage error over the pairs with a positive actual (NaN: none)."""
    p, a = np.asarray(predicted, dtype=float), np.asarray(actual, dtype=float)
    ok = (a > 0) & ~np.isnan(p)
    return float(np.mean(np.abs(p[ok] - a[ok]) / a[ok])) if ok.any() else float("nan")


def ltv_backtest(df: pd.DataFrame | None, title: str = "LTV backtest: predicted vs actual revenue") -> bytes:
    """Grouped bars per cohort, predicted next to actual revenue, with the MAPE over the cohorts
    with revenue in the title."""
    d = _frame(df, ("cohort", "predicted", "actual"), "ltv_backtest")
    if not d.empty:
        d = d.assign(predicted=pd.to_numeric(d["predicted"], errors="coerce"),
                     actual=pd.to_numeric(d["actual"], errors="coerce"))
        d = d[d["predicted"].notna() | d["actual"].notna()]
    if d.empty:
        return _no_data(title)
    d = d.assign(cohort=_labels(d["cohort"])).groupby("cohort", sort=True)[["predicted", "actual"]].sum(min_count=1)
    error = mape(d["predicted"], d["actual"])
    fig, (ax,) = _figure()
    x = np.arange(len(d.index))
    ax.bar(x - 0.2, d["predicted"].fillna(0.0), width=0.4, color=_PALETTE[0], label="predicted")
    ax.bar(x + 0.2, d["actual"].fillna(0.0), width=0.4, color=_PALETTE[2], label="actual")
    ax.set_xticks(x, list(d.index), rotation=30 if len(x) > 6 else 0, ha="right" if len(x) > 6 else "center",
                  fontsize=8)
    ax.set_ylim(0, max(float(np.nanmax(d.to_numpy(dtype=float))), 1e-9) * 1.2)  # headroom for the legend
    shown = "n/a (no cohort with revenue)" if np.isnan(error) else f"{error:.1%}"
    _style(ax, f"{title} (MAPE {shown})", "cohort", "revenue")
    ax.legend(fontsize=8, frameon=False)
    return _png(fig)


def credit_comparison(df: pd.DataFrame | None, title: str = "Conversions credited per channel by model",
                      top: int = 10) -> bytes:
    """Grouped bars: per channel (the ``top`` by last-touch credit, else by total), one bar per
    attribution model (rule-based first, then markov and shapley, then any other)."""
    d = _frame(df, ("channel", "model", "credit"), "credit_comparison", ("model",))
    if not d.empty:
        d = d.assign(credit=pd.to_numeric(d["credit"], errors="coerce"))
        d = d[d["credit"].notna()]
    if d.empty:
        return _no_data(title)
    d = d.assign(channel=_labels(d["channel"]), model=d["model"].astype(str))
    table = d.pivot_table(index="channel", columns="model", values="credit", aggfunc="sum", fill_value=0.0)
    models = ordered(table.columns, MODEL_ORDER)
    rank = table["last_touch"] if "last_touch" in table.columns else table.sum(axis=1)
    channels = sorted(table.index, key=lambda c: (-float(rank[c]), c))[:top]
    table = table.reindex(index=channels, columns=models, fill_value=0.0)
    fig, (ax,) = _figure()
    x = np.arange(len(channels))
    width = 0.8 / len(models)
    for k, model in enumerate(models):
        ax.bar(x - 0.4 + width * (k + 0.5), table[model].to_numpy(dtype=float), width=width, label=model,
               color=_PALETTE[k % len(_PALETTE)])
    ax.axhline(0, color="#4a5568", linewidth=0.8)
    high, low = float(table.to_numpy().max()), float(table.to_numpy().min())
    ax.set_ylim(min(0.0, low * 1.1), max(high, 1e-9) * 1.3)  # headroom for the legend
    ax.set_xticks(x, channels, rotation=30 if len(x) > 6 else 0, ha="right" if len(x) > 6 else "center",
                  fontsize=9)
    _style(ax, title, "channel (media_source)", "conversions credited")
    ax.legend(title="model", fontsize=8, title_fontsize=9, frameon=False, ncols=min(len(models), 4))
    return _png(fig)


# -- helpers ------------------------------------------------------------------------------------
def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="#edf2f7")


def _percent_formatter():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def duration_text(seconds: float) -> str:
    """10 s, 24 h → '1 d', 3600 → '1 h'."""
    s = float(seconds)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if s >= size and s % size == 0:
            return f"{s / size:g} {unit}"
    return f"{s:g} s"
