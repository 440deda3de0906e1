"""Predicted LTV (SPEC §6): cumulative revenue per install at a horizon from its first days.

The frame is read from dbt's ``fs_install_activity_daily`` (per install and day, activity and revenue
in USD at the event day's rate); LightGBM (Tweedie) learns the horizon revenue from the
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
from unmogrowp.warehouse import MARTS, STAGING

MODEL_NAME = "ltv_regressor"
EXPERIMENT = "ltv"
DESCRIPTION = ("Predicted LTV (SPEC §6): horizon revenue per install from its first days (Feast service "
               "ltv_model_v1), trained nightly by the Dagster asset ltv_model and backtested on the newest "
               "matured cohorts; the `champion` alias moves only when the held-out MAPE improves.")
CATEGORICAL = ("media_source", "platform", "country")
NUMERIC = ("sessions_d0", "sessions_early", "events_early", "purchases_early", "iap_usd_early", "ad_usd_early",
           "revenue_usd_early", "active_days_early")


# the CLV baseline's inputs per install (ml.clv summary, periods of one hour, times in days)
CLV_COLUMNS = {"frequency": "clv_frequency", "recency": "clv_recency", "T": "clv_T", "monetary_value": "clv_monetary"}
CLV_PERIOD = "h"
# the model's early-days columns from Feast's install_activity view (cumulative at install + E days)
FEAST_COLUMNS = {"sessions_d0": "sessions_d0", "sessions_cum": "sessions_early", "events_cum": "events_early",
                 "purchases_cum": "purchases_early", "iap_usd_cum": "iap_usd_early", "ad_usd_cum": "ad_usd_early",
                 "revenue_usd_cum": "revenue_usd_early", "active_days_cum": "active_days_early",
                 "platform": "platform", "media_source": "media_source", "country": "country"}
FEATURE_SERVICE = "ltv_model_v1"  # Feast: ml/feature_repo/definitions.py
# per new install and elapsed day N, its activity over days 0..N, once day N is over (dbt)
ACTIVITY = f"{MARTS}.fs_install_activity_daily"


def frame_sql(early_days: int, horizon_days: int, features: bool = True) -> str:
    """Per install of ``fs_install_activity_daily``: its early-days features, the cumulative values at
    day early_days - 1 (unless ``features`` is False: then the install time for a Feast point-in-time
    read instead), the horizon revenue (USD) at day horizon_days - 1 (at most the mart's last day,
    ``unmogrowp__cohort_max_day``), each the latest day known while that day is not over, and whether
    the early days and the horizon are over."""
    early, horizon = early_days - 1, horizon_days - 1
    if features:
        columns = ", ".join([*(f"any({c}) AS {c}" for c in CATEGORICAL),
                             *(f"argMaxIf({src}, day_n, day_n <= {early}) AS {dst}"
                               for src, dst in FEAST_COLUMNS.items() if dst in NUMERIC)])
    else:  # day N is known at install_ts + N + 1 days
        columns = "anyIf(feature_ts, day_n = 0) - toIntervalDay(1) AS install_ts"
    return f"""
SELECT install_id, any(app_id) AS app_id, any(install_date) AS install_date, {columns},
       argMaxIf(revenue_usd_cum, day_n, day_n <= {horizon}) AS revenue_usd_horizon,
       countIf(day_n = {horizon}) > 0 AS is_mature, countIf(day_n = {early}) > 0 AS early_observed
FROM {ACTIVITY}
GROUP BY install_id
"""


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    for c in CATEGORICAL:
        df[c] = df[c].fillna("").astype(str)
    for c in NUMERIC:
        df[c] = df[c].fillna(0).astype("float64")
    df["install_date"] = pd.to_datetime(df["install_date"]).dt.date.astype(str)
    return df


def purchases_sql() -> str:
    """Every in-app purchase per app and device key, in USD at the event day's rate (NULL if none)."""
    return f"""
WITH p AS (
    SELECT app_id, device_key, event_ts, revenue, ifNull(currency, '') AS currency, toDate(event_ts) AS event_date
    FROM {STAGING}.stg_sdk__app_events WHERE event_type = 'purchase'
)
SELECT p.app_id AS app_id, p.device_key AS device_key, p.event_ts AS event_ts, p.revenue AS revenue,
       p.currency AS currency, if(p.revenue IS NULL OR fx.units_per_usd = 0, NULL, p.revenue / fx.units_per_usd) AS usd
FROM p ASOF LEFT JOIN {STAGING}.stg_config__fx_rates AS fx ON fx.currency = p.currency AND fx.rate_date <= p.event_date
SETTINGS join_use_nulls = 1
"""


def load_purchases(client) -> pd.DataFrame:
    """Purchase events from ClickHouse: app_id, device_key, event_ts (UTC), revenue, currency, usd."""
    return client.query_df(purchases_sql())


def clv_inputs(installs: pd.DataFrame, purchases: pd.DataFrame, early_days: int) -> pd.DataFrame:
    """Per install_id the CLV baseline's inputs (``CLV_COLUMNS``, times in days) from the purchases
    of its first ``early_days`` days (``ml.clv.summary_from_transactions``, born at install;
    ``installs`` has install_id, app_id, device_key and install_ts)."""
    from ml import clv

    birth = pd.Series(pd.to_datetime(installs["install_ts"], utc=True).to_numpy(), index=installs["install_id"])
    end = birth + pd.Timedelta(days=early_days)
    tx = purchases.merge(installs[["install_id", "app_id", "device_key"]], on=["app_id", "device_key"])
    s = clv.summary_from_transactions(tx, "install_id", "event_ts", "usd", observation_end=end, freq=CLV_PERIOD,
                                      freq_multiplier=24, birth=birth)
    return s.rename(columns=CLV_COLUMNS).rename_axis("install_id").reset_index()


def load_clv_inputs(client, early_days: int) -> pd.DataFrame:
    """``clv_inputs`` of the installs of ``fs_install_activity_daily``."""
    installs = client.query_df(f"SELECT install_id, app_id, device_key, install_ts FROM {MARTS}.fct_installs "
                               f"WHERE install_id IN (SELECT install_id FROM {ACTIVITY})")
    return clv_inputs(installs, load_purchases(client), early_days)


def _with_clv(frame: pd.DataFrame, client, early_days: int) -> pd.DataFrame:
    out = frame.merge(load_clv_inputs(client, early_days), on="install_id", how="left")
    out[list(CLV_COLUMNS.values())] = out[list(CLV_COLUMNS.values())].fillna(0.0)
    return out


def load_frame_sql(client, early_days: int, horizon_days: int) -> pd.DataFrame:
    """The frame straight from ClickHouse (the reference the Feast path is tested against)."""
    return _with_clv(_tidy(client.query_df(frame_sql(early_days, horizon_days))), client, early_days)


def load_frame(client, store, early_days: int, horizon_days: int) -> pd.DataFrame:
    """Labels and baseline inputs from ClickHouse, the model's features from Feast: a
    point-in-time read of ``install_activity`` at install + ``early_days`` days."""
    from datetime import timedelta

    from ml.feature_store import training_frame

    spine = client.query_df(frame_sql(early_days, horizon_days, features=False))
    spine["event_timestamp"] = pd.to_datetime(spine.pop("install_ts"), utc=True) + timedelta(days=early_days)
    if spine.empty:  # nothing to read from Feast
        frame = spine.assign(**{c: pd.Series(dtype="float64") for c in FEAST_COLUMNS.values()})
    else:
        frame = training_frame(store, spine, FEATURE_SERVICE).rename(columns=FEAST_COLUMNS)
    return _with_clv(_tidy(frame.drop(columns="event_timestamp")), client, early_days)


def pipeline(seed: int = 7) -> Pipeline:
    enc = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                                    dtype=np.float64), list(CATEGORICAL))],
                            remainder="passthrough", verbose_feature_names_out=False)
    reg = lgb.LGBMRegressor(objective="tweedie", tweedie_variance_power=1.3, n_estimators=300,
                            learning_rate=0.05, num_leaves=31, min_child_samples=30, random_state=seed, verbose=-1)
    return Pipeline([("encode", enc), ("model", reg)])


def mape(pred, actual) -> float:
    """|sum(pred) − sum(actual)| / sum(actual); NaN if the actual total is 0 or a prediction is NaN."""
    p, a = float(np.sum(np.asarray(pred, float))), float(np.sum(np.asarray(actual, float)))
    return abs(p - a) / a if a > 0 else float("nan")


def backtest_table(test: pd.DataFrame, pred: np.ndarray) -> dict[str, dict[str, float]]:
    t = test.assign(pred=pred)
    return {
        "by_cohort": {str(k): mape(g["pred"], g["revenue_usd_horizon"]) for k, g in t.groupby("install_date")},
        "by_source": {str(k): mape(g["pred"], g["revenue_usd_horizon"]) for k, g in t.groupby("media_source")},
    }


def bgnbd_baseline(train_df: pd.DataFrame, test_df: pd.DataFrame, early_days: int, horizon_days: int):
    """The classic baseline on ``CLV_COLUMNS``: BG/NBD on each install's early purchases (born at
    install) and Gamma-Gamma on their values; horizon revenue = early revenue + expected purchases
    in (early_days, horizon_days] x expected purchase value; NaN if no install paid."""
    from ml import clv

    def inputs(df):
        return (df[c].to_numpy(float) for c in CLV_COLUMNS.values())

    x, t_x, T, m = inputs(train_df)
    if not ((x > 0) & (m > 0)).any():
        return np.full(len(test_df), np.nan), {}
    bg = clv.fit_bgnbd(x, t_x, T)
    gg = clv.fit_gamma_gamma(x, m)
    x, t_x, T, m = inputs(test_df)
    future = bg.expected_purchases(float(horizon_days - early_days), x, t_x, T)
    pred = test_df["revenue_usd_early"].to_numpy(float) + future * gg.expected_value(x, m)
    return pred, {"bgnbd": bg.__dict__, "gamma_gamma": gg.__dict__}


def split(frame: pd.DataFrame, test_share_days: float = 0.3):
    """Matured installs split by install date: (train, test, test days), the newest days held out."""
    mature = frame[frame["is_mature"].astype(bool)]
    days = sorted(mature["install_date"].unique())
    n_test = max(1, int(round(len(days) * test_share_days))) if len(days) > 1 else len(days)
    test_days = set(days[len(days) - n_test:])
    held = mature["install_date"].isin(test_days)
    return mature[~held], mature[held], test_days


def cannot_train(frame: pd.DataFrame, horizon_days: int, test_share_days: float = 0.3) -> str | None:
    """Why ``frame`` cannot train and backtest a model (None if it can): ``train`` needs two
    matured cohort days, revenue to learn from and revenue in the held-out days (MAPE)."""
    if frame.empty:
        return "no installs"
    days = frame.loc[frame["is_mature"].astype(bool), "install_date"].nunique()
    if days < 2:
        return (f"fewer than 2 matured cohort days (need install dates with {horizon_days} days observed): "
                f"have {days}")
    train_df, test_df, test_days = split(frame, test_share_days)
    if not train_df["revenue_usd_horizon"].sum() > 0:
        return f"no revenue by day {horizon_days} in the {train_df['install_date'].nunique()} training cohort days"
    if not test_df["revenue_usd_horizon"].sum() > 0:
        return (f"no revenue by day {horizon_days} in the held-out cohort days {', '.join(sorted(test_days))}: "
                "the backtest MAPE is undefined")
    return None


def train(frame: pd.DataFrame, early_days: int, horizon_days: int, data_version: dict,
          test_share_days: float = 0.3, seed: int = 7) -> dict:
    """Fit on the older matured cohorts, backtest on the newest, log to MLflow, register and gate
    the champion on the held-out total-revenue MAPE (lower is better). Raises where
    ``cannot_train`` gives a reason."""
    reason = cannot_train(frame, horizon_days, test_share_days)
    if reason:
        raise ValueError(f"the LTV model cannot train: {reason}")
    train_df, test_df, test_days = split(frame, test_share_days)
    cols = [*CATEGORICAL, *NUMERIC]
    mlflow.set_experiment(experiment_id=tracking.experiment(EXPERIMENT, DESCRIPTION))
    with mlflow.start_run(run_name=f"ltv_d{horizon_days}") as run:
        mlflow.log_input(mlflow.data.from_pandas(train_df[[*cols, "revenue_usd_horizon"]], name="ltv_matured_cohorts",
                                                 targets="revenue_usd_horizon"), context="training")
        mlflow.log_input(mlflow.data.from_pandas(test_df[[*cols, "revenue_usd_horizon"]], name="ltv_backtest_cohorts",
                                                 targets="revenue_usd_horizon"), context="evaluation")
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
    by_cohort = (test_df.assign(predicted=np.asarray(pred)).groupby("install_date", as_index=False)
                 .agg(predicted=("predicted", "sum"), actual=("revenue_usd_horizon", "sum"))
                 .rename(columns={"install_date": "cohort"}))
    return {"run_id": run.info.run_id, "metrics": metrics, "backtest": bt, "gate": gate.as_dict(),
            "baseline_backtest": backtest_table(test_df, base_pred), "backtest_by_cohort": by_cohort}


def cannot_predict(frame: pd.DataFrame, early_days: int) -> str | None:
    """Why ``predict`` has nothing to score (None if it has): no champion, or no install whose
    early days are observed."""
    if tracking.champion_version(MODEL_NAME) is None:
        return f"no champion {MODEL_NAME} registered (ltv_model has not trained one yet)"
    if not frame["early_observed"].astype(bool).any():
        return f"no install has its first {early_days} days observed"
    return None


def predict(frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Champion predictions for installs whose early days are observed."""
    model = tracking.load_champion_sklearn(MODEL_NAME)
    rows = frame[frame["early_observed"].astype(bool)]
    out = rows[["install_id", "app_id", "install_date"]].copy()
    out["horizon_days"] = horizon_days
    out["predicted_revenue"] = model.predict(rows[[*CATEGORICAL, *NUMERIC]]) if len(rows) else []
    out["model_version"] = tracking.champion_version(MODEL_NAME) or ""
    return out
