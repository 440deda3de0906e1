"""Predicted LTV (SPEC §6): cumulative revenue per install at a horizon from its first days.

The frame is built in ClickHouse (installs from ``fct_installs``, activity from the staging view,
revenue in USD at the event day's rate); LightGBM (Tweedie) learns the horizon revenue from the
early-days behaviour, source, geo and device. Backtest: train on the older matured cohorts, report
MAPE of the summed prediction per held-out cohort (install date) and per source.
"""

from __future__ import annotations

import time

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from ml import tracking

MODEL_NAME = "ltv_regressor"
EXPERIMENT = "ltv"
CATEGORICAL = ("media_source", "platform", "country")
NUMERIC = ("sessions_d0", "sessions_early", "events_early", "purchases_early", "iap_usd_early", "ad_usd_early",
           "revenue_usd_early", "active_days_early")


def frame_sql(early_days: int, horizon_days: int, features: bool = True) -> str:
    """Per install: early-days features (unless ``features`` is False: then the install time for a
    Feast point-in-time read instead), the horizon revenue (USD), the BG/NBD baseline's inputs, and
    whether the early days and the horizon are observed."""
    columns = ("m.platform AS platform, m.media_source AS media_source, m.country AS country, "
               + ", ".join(f"ifNull(a.{c}, 0) AS {c}" for c in NUMERIC)) if features else "m.install_ts AS install_ts"
    return f"""
WITH members AS (
    SELECT install_id, app_id, device_key, install_ts, toDate(install_ts) AS install_date, platform,
           media_source, ifNull(country, '') AS country
    FROM marts.fct_installs
    WHERE install_kind = 'install' AND attribution_status IN ('attributed', 'organic')
),
events AS (
    SELECT m.install_id AS install_id, e.event_type AS event_type, toDate(e.event_ts) AS event_date,
           intDiv(toUnixTimestamp64Milli(e.event_ts) - toUnixTimestamp64Milli(m.install_ts), 86400000) AS day_n,
           (toUnixTimestamp64Milli(e.event_ts) - toUnixTimestamp64Milli(m.install_ts)) / 86400000.0 AS age_days,
           e.revenue AS revenue, ifNull(e.currency, '') AS currency
    FROM staging.stg_sdk__app_events AS e
    INNER JOIN members AS m ON m.app_id = e.app_id AND m.device_key = e.device_key
    WHERE e.event_ts >= m.install_ts
),
usd AS (
    SELECT ev.install_id AS install_id, ev.event_type AS event_type, ev.day_n AS day_n, ev.age_days AS age_days,
           if(ev.revenue IS NULL OR fx.units_per_usd = 0, 0, ev.revenue / fx.units_per_usd) AS usd
    FROM events AS ev
    ASOF LEFT JOIN config.fx_rates AS fx ON fx.currency = ev.currency AND fx.rate_date <= ev.event_date
),
agg AS (
    SELECT install_id,
           countIf(event_type = 'session_start' AND day_n = 0) AS sessions_d0,
           countIf(event_type = 'session_start' AND day_n < {early_days}) AS sessions_early,
           countIf(day_n < {early_days}) AS events_early,
           countIf(event_type = 'purchase' AND day_n < {early_days}) AS purchases_early,
           sumIf(usd, event_type = 'purchase' AND day_n < {early_days}) AS iap_usd_early,
           sumIf(usd, event_type = 'ad_revenue' AND day_n < {early_days}) AS ad_usd_early,
           sumIf(usd, day_n < {early_days}) AS revenue_usd_early,
           uniqExactIf(day_n, day_n < {early_days}) AS active_days_early,
           sumIf(usd, day_n < {horizon_days}) AS revenue_usd_horizon,
           maxIf(age_days, event_type = 'purchase' AND day_n < {early_days}) AS last_purchase_day,
           avgIf(usd, event_type = 'purchase' AND day_n < {early_days}) AS mean_purchase_usd
    FROM usd GROUP BY install_id
),
as_of AS (SELECT max(event_ts) AS ts FROM staging.stg_sdk__app_events)
SELECT m.install_id AS install_id, m.app_id AS app_id, m.install_date AS install_date, {columns},
       ifNull(a.revenue_usd_horizon, 0) AS revenue_usd_horizon,
       ifNull(a.last_purchase_day, 0) AS last_purchase_day, ifNull(a.mean_purchase_usd, 0) AS mean_purchase_usd,
       m.install_ts + toIntervalDay({horizon_days}) <= (SELECT ts FROM as_of) AS is_mature,
       m.install_ts + toIntervalDay({early_days}) <= (SELECT ts FROM as_of) AS early_observed
FROM members AS m
LEFT JOIN agg AS a ON a.install_id = m.install_id
SETTINGS join_use_nulls = 1
"""


# the model's early-days columns from Feast's install_activity view (cumulative at install + E days)
FEAST_COLUMNS = {"sessions_d0": "sessions_d0", "sessions_cum": "sessions_early", "events_cum": "events_early",
                 "purchases_cum": "purchases_early", "iap_usd_cum": "iap_usd_early", "ad_usd_cum": "ad_usd_early",
                 "revenue_usd_cum": "revenue_usd_early", "active_days_cum": "active_days_early",
                 "platform": "platform", "media_source": "media_source", "country": "country"}
FEATURE_SERVICE = "ltv_model_v1"  # Feast: ml/feature_repo/definitions.py


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    for c in CATEGORICAL:
        df[c] = df[c].fillna("").astype(str)
    for c in NUMERIC:
        df[c] = df[c].fillna(0).astype("float64")
    df["install_date"] = pd.to_datetime(df["install_date"]).dt.date.astype(str)
    return df


def load_frame_sql(client, early_days: int, horizon_days: int) -> pd.DataFrame:
    """The frame straight from ClickHouse (the reference the Feast path is tested against)."""
    return _tidy(client.query_df(frame_sql(early_days, horizon_days)))


def load_frame(client, store, early_days: int, horizon_days: int) -> pd.DataFrame:
    """Labels and baseline inputs from ClickHouse, the model's features from Feast: a
    point-in-time read of ``install_activity`` at install + ``early_days`` days."""
    from datetime import timedelta

    from ml.feature_store import training_frame

    spine = client.query_df(frame_sql(early_days, horizon_days, features=False))
    spine["event_timestamp"] = pd.to_datetime(spine.pop("install_ts"), utc=True) + timedelta(days=early_days)
    frame = training_frame(store, spine, FEATURE_SERVICE).rename(columns=FEAST_COLUMNS)
    return _tidy(frame.drop(columns="event_timestamp"))


def pipeline(seed: int = 7) -> Pipeline:
    enc = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                                    dtype=np.float64), list(CATEGORICAL))],
                            remainder="passthrough", verbose_feature_names_out=False)
    reg = lgb.LGBMRegressor(objective="tweedie", tweedie_variance_power=1.3, n_estimators=300,
                            learning_rate=0.05, num_leaves=31, min_child_samples=30, random_state=seed, verbose=-1)
    return Pipeline([("encode", enc), ("model", reg)])


def mape(pred: pd.Series, actual: pd.Series) -> float:
    return float(abs(pred.sum() - actual.sum()) / actual.sum()) if actual.sum() > 0 else float("nan")


def backtest_table(test: pd.DataFrame, pred: np.ndarray) -> dict[str, dict[str, float]]:
    t = test.assign(pred=pred)
    return {
        "by_cohort": {str(k): mape(g["pred"], g["revenue_usd_horizon"]) for k, g in t.groupby("install_date")},
        "by_source": {str(k): mape(g["pred"], g["revenue_usd_horizon"]) for k, g in t.groupby("media_source")},
    }


def bgnbd_baseline(train_df: pd.DataFrame, test_df: pd.DataFrame, early_days: int, horizon_days: int):
    """The classic baseline: BG/NBD on each install's early purchases (birth = install, age =
    early_days) and Gamma-Gamma on their values; horizon revenue = early revenue + expected
    purchases in (early_days, horizon_days] x expected purchase value (in-app purchases only)."""
    from ml import clv

    T = np.full(len(train_df), float(early_days))
    bg = clv.fit_bgnbd(train_df["purchases_early"], train_df["last_purchase_day"], T)
    gg = clv.fit_gamma_gamma(train_df["purchases_early"], train_df["mean_purchase_usd"])
    x, t_x = test_df["purchases_early"].to_numpy(float), test_df["last_purchase_day"].to_numpy(float)
    future = bg.expected_purchases(float(horizon_days - early_days), x, t_x, np.full(len(x), float(early_days)))
    value = gg.expected_value(x, test_df["mean_purchase_usd"].to_numpy(float))
    pred = test_df["revenue_usd_early"].to_numpy(float) + future * value
    return pred, {"bgnbd": bg.__dict__, "gamma_gamma": gg.__dict__}


def train(frame: pd.DataFrame, early_days: int, horizon_days: int, data_version: dict,
          test_share_days: float = 0.3, seed: int = 7) -> dict:
    """Fit on the older matured cohorts, backtest on the newest, log to MLflow, register and gate
    the champion on the held-out total-revenue MAPE (lower is better)."""
    mature = frame[frame["is_mature"].astype(bool)]
    days = sorted(mature["install_date"].unique())
    if len(days) < 2:
        raise ValueError(f"the LTV backtest needs two matured cohort days at D{horizon_days}; found {len(days)}")
    n_test = max(1, int(round(len(days) * test_share_days)))
    test_days = set(days[-n_test:])
    train_df = mature[~mature["install_date"].isin(test_days)]
    test_df = mature[mature["install_date"].isin(test_days)]
    cols = [*CATEGORICAL, *NUMERIC]
    mlflow.set_experiment(experiment_id=tracking.experiment(EXPERIMENT))
    with mlflow.start_run(run_name=f"ltv_d{horizon_days}") as run:
        t0 = time.perf_counter()
        model = pipeline(seed).fit(train_df[cols], train_df["revenue_usd_horizon"])
        train_s = time.perf_counter() - t0
        pred = model.predict(test_df[cols])
        bt = backtest_table(test_df, pred)
        overall = mape(pd.Series(pred), test_df["revenue_usd_horizon"])
        naive = test_df["revenue_usd_early"] * (train_df["revenue_usd_horizon"].sum()
                                                / max(train_df["revenue_usd_early"].sum(), 1e-9))
        base_pred, base_params = bgnbd_baseline(train_df, test_df, early_days, horizon_days)
        metrics = {"mape_total": overall, "mape_naive_multiplier": mape(naive, test_df["revenue_usd_horizon"]),
                   "mape_bgnbd_gamma_gamma": mape(pd.Series(base_pred), test_df["revenue_usd_horizon"]),
                   "mape_cohort_median": float(np.nanmedian(list(bt["by_cohort"].values()))),
                   "mae_per_install": float(np.mean(np.abs(pred - test_df["revenue_usd_horizon"]))),
                   "train_seconds": train_s, "train_rows": float(len(train_df)), "test_rows": float(len(test_df))}
        mlflow.log_params({"early_days": early_days, "horizon_days": horizon_days, "seed": seed,
                           "train_days": ",".join(sorted(train_df["install_date"].unique())),
                           "test_days": ",".join(sorted(test_days)),
                           **{f"data_version_{k}": v for k, v in data_version.items()}})
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_dict({"features": cols, "backtest_mape": bt,
                         "baseline_backtest_mape": backtest_table(test_df, base_pred),
                         "baseline_params": {k: {n: float(v) for n, v in p.items()} for k, p in base_params.items()}},
                        "backtest.json")
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=MODEL_NAME,
                                        signature=infer_signature(test_df[cols].head(100), pred[:100]),
                                        serialization_format="cloudpickle")
        held_x, held_y = test_df[cols], test_df["revenue_usd_horizon"]

        def champion_mape(uri: str) -> float:
            return mape(pd.Series(mlflow.sklearn.load_model(uri).predict(held_x)), held_y)

        gate = tracking.gate(MODEL_NAME, str(info.registered_model_version), overall, champion_mape,
                             higher_is_better=False)
        mlflow.log_dict(gate.as_dict(), "champion_gate.json")
    return {"run_id": run.info.run_id, "metrics": metrics, "backtest": bt, "gate": gate.as_dict(),
            "baseline_backtest": backtest_table(test_df, base_pred)}


def predict(frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Champion predictions for installs whose early days are observed."""
    model = tracking.load_champion_sklearn(MODEL_NAME)
    rows = frame[frame["early_observed"].astype(bool)]
    out = rows[["install_id", "app_id", "install_date"]].copy()
    out["horizon_days"] = horizon_days
    out["predicted_revenue"] = model.predict(rows[[*CATEGORICAL, *NUMERIC]]) if len(rows) else []
    out["model_version"] = tracking.champion_version(MODEL_NAME) or ""
    return out
