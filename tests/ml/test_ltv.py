"""Predicted LTV: the frames that cannot train a model say why (the asset then reports skipped and
the run succeeds), a good frame trains, and the BG/NBD baseline's inputs come from ml.clv."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from ml import ltv, tracking

EARLY, HORIZON = 3, 14
DAYS = ("2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04")


def synthetic(days=DAYS, n=500, seed=1, buy=True):
    """Installs and their purchases (BG/NBD-like: Poisson per payer, faster on one source, churn
    after a purchase) as the
    LTV frame ``ltv.load_frame`` returns: features of the first EARLY days, revenue by HORIZON."""
    rng = np.random.default_rng(seed)
    rows, buys = [], []
    for d in days:
        for i in range(n):
            source = rng.choice(["organic", "ads_a", "ads_b"])
            install_ts = pd.Timestamp(d, tz="UTC") + pd.Timedelta(hours=float(rng.uniform(0, 24)))
            rows.append({"install_id": f"{d}-{i}", "app_id": "app", "device_key": f"k{d}-{i}", "install_ts": install_ts,
                         "install_date": d, "platform": rng.choice(["ios", "android"]), "media_source": source,
                         "country": rng.choice(["US", "DE"]), "sessions_d0": float(rng.integers(1, 4))})
            rate = rng.gamma(0.5, 0.4 if source == "ads_a" else 0.15) if buy and rng.random() < 0.3 else 0.0
            t, churn = (rng.exponential(1 / rate) if rate else np.inf), rng.beta(1.0, 3.0)
            while t < HORIZON:
                buys.append({"app_id": "app", "device_key": f"k{d}-{i}", "event_ts": install_ts + pd.Timedelta(days=t),
                             "usd": float(rng.gamma(6.0, 1.0))})
                t += rng.exponential(1 / rate) if rng.random() > churn else np.inf
    installs = pd.DataFrame(rows)
    purchases = pd.DataFrame(buys, columns=["app_id", "device_key", "event_ts", "usd"])
    purchases["event_ts"] = pd.to_datetime(purchases["event_ts"], utc=True)
    p = purchases.merge(installs[["device_key", "install_id", "install_ts"]], on="device_key")
    age = (p["event_ts"] - p["install_ts"]) / pd.Timedelta(days=1)
    early = p[age < EARLY].groupby("install_id")
    f = installs.set_index("install_id")
    for c, v in {"purchases_early": early.size(), "iap_usd_early": early["usd"].sum(),
                 "revenue_usd_horizon": p[age < HORIZON].groupby("install_id")["usd"].sum()}.items():
        f[c] = v.reindex(f.index).astype(float).fillna(0.0)
    f["sessions_early"] = f["sessions_d0"] + f["purchases_early"]
    f["events_early"] = 2 * f["sessions_early"]
    f["ad_usd_early"] = 0.0
    f["revenue_usd_early"] = f["iap_usd_early"]
    f["active_days_early"] = np.minimum(f["sessions_early"], EARLY)
    f["is_mature"] = f["early_observed"] = True
    f = f.reset_index()
    f = f.merge(ltv.clv_inputs(installs, purchases, EARLY), on="install_id", how="left")
    return f.drop(columns=["device_key", "install_ts"]), purchases


def test_one_matured_day_cannot_train():
    frame, _ = synthetic()
    frame["is_mature"] = frame["install_date"] == DAYS[0]
    reason = ltv.cannot_train(frame, HORIZON)
    assert reason == (f"fewer than 2 matured cohort days (need install dates with {HORIZON} days observed): have 1")
    with pytest.raises(ValueError, match="fewer than 2 matured cohort days"):
        ltv.train(frame, EARLY, HORIZON, {})
    one_day, _ = synthetic(days=DAYS[:1])
    assert ltv.cannot_train(one_day, HORIZON).endswith("have 1")
    assert ltv.cannot_train(one_day.iloc[:0], HORIZON) == "no installs"


def test_no_purchases_cannot_train():
    frame, purchases = synthetic(buy=False)
    assert purchases.empty and (frame["clv_frequency"] == 0).all()
    assert ltv.cannot_train(frame, HORIZON) == f"no revenue by day {HORIZON} in the 3 training cohort days"
    # revenue in the training days only: the backtest has nothing to measure
    frame.loc[frame["install_date"] == DAYS[0], "revenue_usd_horizon"] = 1.0
    assert ltv.cannot_train(frame, HORIZON) == (f"no revenue by day {HORIZON} in the held-out cohort days "
                                                f"{DAYS[-1]}: the backtest MAPE is undefined")


def test_clv_inputs_from_the_builder():
    frame, purchases = synthetic(days=DAYS[:1], n=200)
    c = frame.set_index("install_id")
    assert (c["clv_T"] == EARLY).all()
    assert (c["clv_frequency"] <= c["purchases_early"]).all() and (c["clv_recency"] < EARLY).all()
    payers = c["purchases_early"] > 0
    assert ((c["clv_frequency"] > 0) == payers).all()
    assert (c.loc[payers, "clv_monetary"] * c.loc[payers, "clv_frequency"]).round(9).equals(
        c.loc[payers, "iap_usd_early"].round(9))


def test_a_good_frame_trains_and_predicts(mlflow_home):
    frame, _ = synthetic()
    assert ltv.cannot_train(frame, HORIZON) is None
    assert ltv.cannot_predict(frame, EARLY) == (
        "no champion ltv_regressor registered (ltv_model has not trained one yet)")
    result = ltv.train(frame, EARLY, HORIZON, {"test": 1})
    m = result["metrics"]
    assert result["gate"]["promoted"] and 0 <= m["mape_total"] < 0.5
    assert np.isfinite(m["mape_bgnbd_gamma_gamma"]) and m["test_rows"] == 500
    assert ltv.cannot_predict(frame, EARLY) is None
    out = ltv.predict(frame, HORIZON)
    assert len(out) == len(frame) and (out["predicted_revenue"] >= 0).all()
    assert out["model_version"].eq(tracking.champion_version(ltv.MODEL_NAME)).all()
    frame["early_observed"] = False
    assert ltv.cannot_predict(frame, EARLY) == f"no install has its first {EARLY} days observed"


class FakeClient:
    def __init__(self):
        self.commands = []

    def command(self, sql):
        self.commands.append(sql)
        return 0

    def insert_arrow(self, table, data):
        raise AssertionError("nothing to insert")


def test_assets_report_skipped_and_the_run_succeeds(tmp_path, monkeypatch):
    from assets.ltv import ltv_model, ltv_predictions
    from assets.outcomes import SKIPPED
    from assets.resources import ClickHouseResource, FeastResource, MlResource

    client = FakeClient()

    class Ch(ClickHouseResource):
        def get_client(self):
            return client

    class Feast(FeastResource):
        def get_store(self):
            return None

    frame, _ = synthetic(days=DAYS[:1], n=100)
    monkeypatch.setattr(ltv, "load_frame", lambda *a: frame)
    result = dg.materialize([ltv_model, ltv_predictions], resources={
        "clickhouse": Ch(), "ml": MlResource(home=str(tmp_path), labels_path=""),
        "feast": Feast(home=str(tmp_path), lake_uri=tmp_path.as_uri(), clickhouse=ClickHouseResource(port=1))})
    assert result.success
    meta = {e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert meta["ltv_model"][SKIPPED].value.startswith("fewer than 2 matured cohort days")
    assert meta["ltv_predictions"][SKIPPED].value.startswith("no champion ltv_regressor")
    assert client.commands == ["TRUNCATE TABLE ml.ltv_predictions"]  # predicted LTV NULL, never stale or 0


def _activity_rows(install_id: str, install_ts: str, country: str, days: list[tuple[int, float]]) -> str:
    """VALUES of fs_install_activity_daily for one install: per day over, (purchases so far, their USD)."""
    t = pd.Timestamp(install_ts)
    return ", ".join(
        f"('{install_id}', 'app', '{t.date()}', {n}, '{t + pd.Timedelta(days=n + 1)}', 'ios', 'ads', '{country}', "
        f"0, 0, {k}, {k}, {usd}, 0, {usd}, {k})" for n, (k, usd) in enumerate(days))


def test_purchases_clv_inputs_and_frame_from_clickhouse(tmp_path):
    """The loader's SQL on ClickHouse: purchases per device key in USD at the event day's rate (NULL
    without one), the per-install CLV inputs of the first EARLY days, and the frame from dbt's
    fs_install_activity_daily (features at day EARLY - 1, revenue at day horizon - 1 once it is over)."""
    from tests.conftest import private_clickhouse
    from unmogrowp.clickhouse import manager

    _, ch = private_clickhouse(tmp_path)
    try:
        for db in ("staging", "marts"):
            ch.command(f"CREATE DATABASE IF NOT EXISTS {db}")
        ch.command("CREATE TABLE staging.stg_sdk__app_events (app_id LowCardinality(String), event_type "
                   "LowCardinality(String), event_ts DateTime64(3, 'UTC'), device_key String, "
                   "revenue Nullable(Float64), currency LowCardinality(Nullable(String))) "
                   "ENGINE = MergeTree ORDER BY event_ts")
        ch.command("CREATE TABLE staging.stg_config__fx_rates (currency String, rate_date Date, units_per_usd "
                   "Float64) ENGINE = MergeTree ORDER BY (currency, rate_date)")
        ch.command("CREATE TABLE marts.fct_installs (install_id String, app_id String, device_key String, install_ts "
                   "DateTime64(3, 'UTC'), platform String, media_source String, country Nullable(String), install_kind "
                   "String, attribution_status String) ENGINE = MergeTree ORDER BY install_id")
        ch.command("CREATE TABLE marts.fs_install_activity_daily (install_id String, app_id String, install_date Date, "
                   "day_n UInt16, feature_ts DateTime64(3, 'UTC'), platform String, media_source String, "
                   "country String, sessions_d0 Int64, sessions_cum Int64, events_cum Int64, purchases_cum Int64, "
                   "iap_usd_cum Float64, ad_usd_cum Float64, revenue_usd_cum Float64, active_days_cum Int64) "
                   "ENGINE = MergeTree ORDER BY (install_id, day_n)")
        ch.command("INSERT INTO staging.stg_config__fx_rates VALUES ('USD', '2000-01-01', 1), "
                   "('EUR', '2000-01-01', 0.5), ('EUR', '2026-09-02', 0.8)")
        ch.command("INSERT INTO marts.fct_installs VALUES "
                   "('i1', 'app', 'k1', '2026-09-01 10:00:00', 'ios', 'ads', 'US', 'install', 'attributed'), "
                   "('i2', 'app', 'k2', '2026-09-01 12:00:00', 'ios', 'ads', NULL, 'install', 'organic'), "
                   "('r1', 'app', 'k3', '2026-09-01 12:00:00', 'ios', 'ads', NULL, 'reinstall', 'attributed')")
        ch.command("INSERT INTO staging.stg_sdk__app_events VALUES "
                   "('app', 'purchase', '2026-09-01 10:30:00', 'k1', 2, 'EUR'), "   # 4 USD, birth hour
                   "('app', 'purchase', '2026-09-02 11:15:00', 'k1', 4, 'EUR'), "   # 5 USD, hour 25
                   "('app', 'purchase', '2026-09-05 11:00:00', 'k1', 1, 'USD'), "   # after the early days
                   "('app', 'purchase', '2026-09-01 12:40:00', 'k2', 3, 'XXX'), "   # no rate: NULL USD
                   "('app', 'session_start', '2026-09-06 00:00:00', 'k2', NULL, NULL)")
        # the mart at the app's as-of 2026-09-06 00:00 (its latest event): days 0..3 of both installs are
        # over (the 1 USD purchase is on day 4); the reinstall is no cohort member
        ch.command("INSERT INTO marts.fs_install_activity_daily VALUES "
                   + _activity_rows("i1", "2026-09-01 10:00:00", "US", [(1, 4.0), (2, 9.0), (2, 9.0), (2, 9.0)])
                   + ", " + _activity_rows("i2", "2026-09-01 12:00:00", "", [(1, 0.0)] * 4))
        purchases = ltv.load_purchases(ch).sort_values(["device_key", "event_ts"])
        assert len(purchases) == 4
        assert purchases["usd"].tolist()[:3] == [4.0, 5.0, 1.0] and pd.isna(purchases["usd"].iloc[3])
        got = ltv.load_clv_inputs(ch, EARLY).set_index("install_id").sort_index()
        assert list(got.index) == ["i1", "i2"]
        assert got.loc["i1"].to_dict() == {"clv_frequency": 2.0, "clv_recency": pytest.approx(25 / 24), "clv_T": 3.0,
                                           "clv_monetary": 4.5}
        assert got.loc["i2"].to_dict() == {"clv_frequency": 1.0, "clv_recency": 0.0, "clv_T": 3.0, "clv_monetary": 0.0}
        frame = ltv.load_frame_sql(ch, EARLY, 7).set_index("install_id").sort_index()
        # day 6 is not over: the horizon revenue so far (day 3), immature
        assert frame.loc["i1", ["purchases_early", "iap_usd_early", "revenue_usd_horizon"]].tolist() == [2, 9, 9]
        assert frame.loc["i1", "clv_frequency"] == 2 and frame["is_mature"].astype(bool).tolist() == [False, False]
        assert frame["early_observed"].astype(bool).tolist() == [True, True] and frame.loc["i2", "country"] == ""
        frame = ltv.load_frame_sql(ch, 1, 2).set_index("install_id").sort_index()
        assert frame.loc["i1", ["purchases_early", "iap_usd_early", "revenue_usd_horizon"]].tolist() == [1, 4, 9]
        assert frame["is_mature"].astype(bool).all()
    finally:
        ch.close()
        manager.stop(tmp_path)
