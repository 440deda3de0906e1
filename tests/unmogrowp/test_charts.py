"""unmogrowp.charts: every chart is a 900 × 450 PNG, the same bytes for the same input, and says
"no data" (without raising) for empty input."""

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from unmogrowp import charts

SIZE = (900, 450)


def decode(png: bytes) -> np.ndarray:
    assert charts.is_png(png), png[:16]
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        assert im.format == "PNG"
        assert im.size == SIZE
        return np.asarray(im.convert("RGB"))


def retention() -> pd.DataFrame:
    rows = []
    for i, d in enumerate(pd.date_range("2026-09-01", periods=5)):
        for n in range(8):
            rows.append((d.date(), n, np.nan if n > 6 - i else round(0.5 * 0.8 ** n, 4)))
    return pd.DataFrame(rows, columns=["install_date", "day_n", "retention"])


def installs() -> pd.DataFrame:
    return pd.DataFrame({"network": ["buzzads", "buzzads", "socialx", None, "clickmob"],
                         "status": ["attributed", "rejected_fraud", "attributed", "organic", "rejected_targeting"],
                         "installs": [300, 20, 200, 500, 5]})


def roas() -> pd.DataFrame:
    return pd.DataFrame([(f"c{k}", n, 0.1 * n * (k + 1) if n < 5 else np.nan, 100.0 * (k + 1))
                         for k in range(12) for n in range(8)], columns=["campaign", "day_n", "roas", "spend"])


def ctit() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"site_id": rng.choice(["s1", "s2", "s3", None], 800),
                         "ctit_s": np.exp(rng.normal(7, 2.5, 800)).round()})


def credits() -> pd.DataFrame:
    return pd.DataFrame([(c, m, v) for c, base in (("buzzads", 40.0), ("socialx", 25.0), ("clickmob", 10.0))
                         for m, v in zip(charts.MODEL_ORDER, base + np.arange(7), strict=True)],
                        columns=["channel", "model", "credit"])


def labels_scores():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    return y, y * 0.6 + rng.random(400)


CHARTS = {
    "retention_heatmap": (lambda: charts.retention_heatmap(retention()),
                          lambda: charts.retention_heatmap(pd.DataFrame(columns=["install_date", "day_n",
                                                                                 "retention"]))),
    "installs_by_network": (lambda: charts.installs_by_network(installs()), lambda: charts.installs_by_network(None)),
    "roas_curves": (lambda: charts.roas_curves(roas()), lambda: charts.roas_curves(pd.DataFrame())),
    "ctit_by_site": (lambda: charts.ctit_by_site(ctit(), 10, 86_400),
                     lambda: charts.ctit_by_site(pd.DataFrame(columns=["site_id", "ctit_s"]), 10, 86_400)),
    "roc_pr": (lambda: charts.roc_pr(*labels_scores()), lambda: charts.roc_pr([], [])),
    "feature_importance": (lambda: charts.feature_importance([f"f{i}" for i in range(20)], np.linspace(-1, 3, 20)),
                           lambda: charts.feature_importance([], [])),
    "ltv_backtest": (lambda: charts.ltv_backtest(pd.DataFrame({"cohort": ["a", "b"], "predicted": [1.0, 2.0],
                                                               "actual": [1.25, 2.0]})),
                     lambda: charts.ltv_backtest(pd.DataFrame(columns=["cohort", "predicted", "actual"]))),
    "credit_comparison": (lambda: charts.credit_comparison(credits()), lambda: charts.credit_comparison(None)),
}


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_is_a_png_of_the_fixed_size_and_deterministic(name):
    draw, _ = CHARTS[name]
    png = draw()
    pixels = decode(png)
    assert draw() == png  # same input, same bytes
    # a real picture: many colours, not a blank canvas
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_empty_input_draws_a_no_data_figure(name):
    _, draw_empty = CHARTS[name]
    pixels = decode(draw_empty())
    full = decode(CHARTS[name][0]())
    ink = (pixels < 200).any(axis=2).mean()
    assert 0 < ink < 0.02  # a title and "no data", nothing else
    assert ink < (full < 200).any(axis=2).mean()


def test_no_data_text_is_drawn_in_the_middle():
    pixels = decode(charts.installs_by_network(pd.DataFrame(columns=["network", "status", "installs"])))
    ink = (pixels < 200).any(axis=2)
    middle = ink[200:250, 350:550]
    assert middle.mean() > 0.02 and ink[300:, :].mean() == 0  # the words in the centre, empty below


def test_retention_heatmap_immature_cells_are_grey_not_zero():
    """NaN (immature) cells use the colour map's 'bad' grey, which no value in 0..max takes."""
    d = retention()
    pixels = decode(charts.retention_heatmap(d, annotate_max_cells=0))
    grey = np.array([0xED, 0xF2, 0xF7])
    assert (np.abs(pixels.astype(int) - grey).sum(axis=2) <= 3).mean() > 0.05
    every = d.assign(retention=d["retention"].fillna(0.0))
    pixels0 = decode(charts.retention_heatmap(every, annotate_max_cells=0))
    assert (np.abs(pixels0.astype(int) - grey).sum(axis=2) <= 3).mean() < 0.01
    # all cells immature: a message, no grid
    assert charts.retention_heatmap(d.assign(retention=np.nan)) != charts.retention_heatmap(d)


def test_charts_differ_with_their_input():
    a = charts.installs_by_network(installs())
    b = charts.installs_by_network(installs().assign(installs=[30, 2, 20, 50, 1]))
    assert a != b
    assert charts.ctit_by_site(ctit(), 10, 86_400) != charts.ctit_by_site(ctit(), 60, 86_400)


def test_roc_pr_with_one_class_says_so_instead_of_raising():
    decode(charts.roc_pr(np.zeros(10), np.linspace(0, 1, 10)))
    with pytest.raises(ValueError, match="labels but"):
        charts.roc_pr([0, 1], [0.5])


def test_missing_columns_on_a_non_empty_frame_is_a_caller_error():
    with pytest.raises(ValueError, match="missing columns"):
        charts.installs_by_network(pd.DataFrame({"network": ["a"], "installs": [1]}))


def test_mape_skips_cohorts_without_revenue():
    assert charts.mape([1.0, 2.0, 5.0], [1.25, 2.0, 0.0]) == pytest.approx(0.1)
    assert np.isnan(charts.mape([1.0], [0.0]))


def test_duration_text():
    assert [charts.duration_text(s) for s in (10, 86_400, 3_600, 90)] == ["10 s", "1 d", "1 h", "90 s"]


def test_markdown_image_and_data_uri_round_trip():
    png = charts.feature_importance(["a", "b"], [1.0, 2.0])
    uri = charts.data_uri(png)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == png
    md = charts.markdown_image(png, "top [features]\nof the day")
    assert md == f"![top (features) of the day]({uri})"


def test_no_pyplot_state_is_touched():
    import sys

    charts.roc_pr(*labels_scores())
    if "matplotlib.pyplot" in sys.modules:  # imported by something else: no figure of ours stays open
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []
