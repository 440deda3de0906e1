"""Click quality in the TalkingData AdTracking format: did a click lead to an install?

Input columns (the competition's ``train.csv``): ip, app, device, os, channel, click_time, and the
target is_attributed. ``read_talkingdata_csv`` reads the public files; ``generated_clicks`` maps the
lake's clicks to the same columns (device = user agent, os = OS version, channel = site), so the
same Spark features and training code judge the platform on public click logs and on our own.
Features follow the winning solutions: group counts, distinct counts and next/previous-click gaps
(the strongest), with negatives down-sampled 1:1 for training.
"""

from __future__ import annotations

import time

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from ml import evaluation, tracking

MODEL_NAME = "click_quality"
EXPERIMENT = "click_quality"
DESCRIPTION = ("Click quality (TalkingData format): did a click lead to an install? LightGBM on Spark group "
               "counts and next-click gaps, time split, 1:1 negatives; trained by the Dagster asset "
               "click_quality_model on the lake's clicks (or the public TalkingData files).")
COUNT_GROUPS = (("ip",), ("ip", "app"), ("ip", "app", "os"), ("ip", "device"), ("app", "channel"))
UNIQUE = (("ip", "channel"), ("ip", "app"), ("ip", "device"), ("app", "channel"))
GAP_GROUPS = (("ip", "app", "device", "os"), ("ip", "os", "device"), ("ip", "app", "device", "os", "channel"))


def read_talkingdata_csv(spark, path: str):
    """TalkingData ``train.csv`` (or a sample) as a Spark frame with the columns above."""
    from pyspark.sql import functions as F

    df = spark.read.option("header", True).csv(path)
    return df.select(*[F.col(c).cast("string") for c in ("ip", "app", "device", "os", "channel")],
                     F.to_timestamp("click_time").alias("click_time"),
                     F.col("is_attributed").cast("int").alias("is_attributed"))


def generated_clicks(spark, lake, install_features_table: str = "features/fraud_install_features"):
    """The lake's clicks in TalkingData form; is_attributed = the click is the touch an install came
    from (attribution's match, carried by the install features)."""
    from pyspark.sql import functions as F

    from unmogrowp.ingest.events import SILVER_EVENTS

    clicks = lake.spark_read(spark, SILVER_EVENTS).where("event_type = 'click'")
    won = (lake.spark_read(spark, install_features_table).where("winning_touch_id IS NOT NULL")
           .select(F.col("winning_touch_id").alias("touch_id")).distinct().withColumn("is_attributed", F.lit(1)))
    return (clicks.join(won, "touch_id", "left")
            .select(F.col("ip"), F.col("app_id").alias("app"), F.coalesce("user_agent", F.lit("")).alias("device"),
                    F.coalesce("os_version", F.lit("")).alias("os"), F.coalesce("site_id", F.lit("")).alias("channel"),
                    F.col("event_ts").alias("click_time"),
                    F.coalesce("is_attributed", F.lit(0)).alias("is_attributed")))


def features(df):
    """The feature frame (Spark): one row per click, the TalkingData feature families."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    t = F.unix_millis("click_time")
    out = (df.withColumn("t_ms", t).withColumn("hour", F.hour("click_time"))
           .withColumn("click_id_", F.monotonically_increasing_id()))
    for g in COUNT_GROUPS:
        out = out.withColumn("cnt_" + "_".join(g), F.count("*").over(Window.partitionBy(*g)))
    for *g, target in UNIQUE:
        out = out.withColumn(f"nuniq_{'_'.join(g)}_{target}",
                             F.size(F.collect_set(target).over(Window.partitionBy(*g))))
    for g in GAP_GROUPS:
        w = Window.partitionBy(*g).orderBy("t_ms", "click_id_")
        name = "_".join(g)
        out = (out.withColumn(f"next_gap_{name}", (F.lead("t_ms").over(w) - F.col("t_ms")) / 1000.0)
               .withColumn(f"prev_gap_{name}", (F.col("t_ms") - F.lag("t_ms").over(w)) / 1000.0))
    return out.drop("click_id_")


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith(("cnt_", "nuniq_", "next_gap_", "prev_gap_")) or c == "hour"]


def cannot_train(frame: pd.DataFrame, test_share: float = 0.3) -> str | None:
    """Why a click frame cannot train and test the model (no click led to an install, too few), or None."""
    if frame.empty:
        return "no clicks in the lake"
    ordered = frame.sort_values("t_ms", kind="stable")["is_attributed"]
    cut = int(len(ordered) * (1 - test_share))
    train_pos, test_pos = int(ordered.iloc[:cut].sum()), int(ordered.iloc[cut:].sum())
    if train_pos in (0, cut) or ordered.iloc[cut:].nunique() < 2:
        return (f"{int(ordered.sum())} of {len(ordered)} clicks led to an install ({train_pos} in the training "
                f"and {test_pos} in the held-out clicks): training needs both outcomes in both")
    return None


def train(frame: pd.DataFrame, test_share: float = 0.3, neg_per_pos: float = 1.0, seed: int = 7,
          source: str = "generated") -> dict:
    """Time split (the latest ``test_share`` of clicks held out), 1:1 negatives in training,
    LightGBM; ROC-AUC on the untouched held-out clicks. Tracked and gated like every model."""
    frame = frame.sort_values("t_ms", kind="stable")
    cut = int(len(frame) * (1 - test_share))
    train_df, test_df = frame.iloc[:cut], frame.iloc[cut:]
    pos, neg = train_df[train_df["is_attributed"] == 1], train_df[train_df["is_attributed"] == 0]
    fit = pd.concat([pos, neg.sample(n=min(len(neg), int(len(pos) * neg_per_pos)), random_state=seed)])
    cols = feature_columns(frame)
    mlflow.set_experiment(experiment_id=tracking.experiment(EXPERIMENT, DESCRIPTION))
    with mlflow.start_run(run_name=f"click_quality_{source}") as run:
        t0 = time.perf_counter()
        model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31, random_state=seed, verbose=-1)
        model.fit(fit[cols].astype("float64"), fit["is_attributed"])
        train_s = time.perf_counter() - t0
        x_test = test_df[cols].astype("float64")
        score = model.predict_proba(x_test)[:, 1]
        metrics = evaluation.binary_metrics(test_df["is_attributed"].to_numpy(), score, 0.5)
        metrics.update(train_seconds=train_s, train_rows=float(len(fit)), clicks=float(len(frame)),
                       positive_share=float(frame["is_attributed"].mean()))
        mlflow.log_params({"source": source, "test_share": test_share, "neg_per_pos": neg_per_pos, "seed": seed})
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_input(mlflow.data.from_pandas(fit[[*cols, "is_attributed"]], name=f"clicks_{source}_training",
                                                 targets="is_attributed"), context="training")
        mlflow.log_dict({"features": cols}, "features.json")
        importance = dict(zip(cols, model.booster_.feature_importance("gain").tolist(), strict=True))
        figs = evaluation.figures(test_df["is_attributed"].to_numpy(), score, importance)
        for name, fig in figs.items():
            mlflow.log_figure(fig, f"plots/{name}")
        evaluation.close(figs)
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=MODEL_NAME,
                                        signature=infer_signature(x_test.head(100), score[:100]),
                                        pyfunc_predict_fn="predict_proba", serialization_format="cloudpickle")
        y = test_df["is_attributed"].to_numpy()

        def champion_auc(uri: str) -> float:
            champ = mlflow.sklearn.load_model(uri)
            if list(champ.feature_name_) != cols:  # a champion trained on another feature set
                return float("-inf")
            return evaluation.binary_metrics(y, champ.predict_proba(x_test)[:, 1], 0.5)["roc_auc"]

        gate = tracking.gate(MODEL_NAME, str(info.registered_model_version), metrics["roc_auc"], champion_auc)
        mlflow.log_dict(gate.as_dict(), "champion_gate.json")
    return {"run_id": run.info.run_id, "metrics": metrics, "gate": gate.as_dict(),
            "top_features": sorted(importance, key=importance.get, reverse=True)[:5]}
