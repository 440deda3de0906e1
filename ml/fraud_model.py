"""The install fraud classifier: LightGBM on the Spark feature table, tracked in MLflow.

Rules stay the first line (``unmogrowp.fraud.rules``); the model adds a score and per-install
explanations (LightGBM's exact TreeSHAP contributions). Labels come from ``UNMOGROWP_FRAUD_LABELS``,
a parquet or CSV file: either ``install_id, fraud_type`` rows (confirmed rejections, chargebacks:
a fraud install with a reason from the SPEC §3 enum; legitimate installs need no row, a blank
reason marks one legitimate) or the
generator's answers (``event_type, event_id, touch_id, fraud_type``: an install is fraud when the
install itself or its winning touch is labelled), the local demo's source.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
from mlflow import MlflowClient
from mlflow.models import infer_signature

from ml import evaluation, tracking
from unmogrowp.fraud import pipeline
from unmogrowp.fraud.features import INSTALL_TABLE, MODEL_FEATURES
from unmogrowp.lake import Lake

MODEL_NAME = "fraud_install_classifier"
EXPERIMENT = "fraud"
DESCRIPTION = ("Install fraud classifier (LightGBM) on the Spark fraud features (Feast service fraud_model_v1), "
               "trained nightly by the Dagster asset fraud_model: time split, negatives down-sampled; the "
               "`champion` alias moves only when a run beats the champion's held-out ROC-AUC.")
FEATURE_SERVICE = "fraud_model_v1"  # Feast: ml/feature_repo/definitions.py


@dataclass
class TrainParams:
    neg_per_pos: float = 3.0  # negatives kept per positive in the training split (TalkingData winners used 1)
    test_share_days: float = 0.3  # the latest days held out
    threshold: float = 0.5  # operating threshold on the (down-sampled) score
    seed: int = 7
    lgb: dict = field(default_factory=lambda: {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31,
                                               "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1,
                                               "colsample_bytree": 0.8, "verbose": -1})


def read_labels(path: str) -> pd.DataFrame | None:
    """The labels file as the generator's columns (``event_type, event_id, touch_id, fraud_type``),
    or None when there is none; ``path`` may be an s3:// URI (production's confirmed rejections). A
    file of neither shape is an error, not an empty label set."""
    import io

    from unmogrowp.objects import read_object

    data = read_object(path) if path else None
    if data is None:
        return None
    labels = pd.read_csv(io.BytesIO(data)) if path.endswith(".csv") else pd.read_parquet(io.BytesIO(data))
    if {"event_type", "event_id", "touch_id", "fraud_type"} <= set(labels.columns):
        return labels
    if {"install_id", "fraud_type"} <= set(labels.columns):
        fraud = labels[labels["fraud_type"].fillna("").astype(str).str.strip() != ""]  # blank: legitimate
        return pd.DataFrame({"event_type": "install", "event_id": fraud["install_id"], "touch_id": None,
                             "fraud_type": fraud["fraud_type"]})
    raise ValueError(f"{path}: fraud labels need columns install_id, fraud_type (or the generator's event_type, "
                     f"event_id, touch_id, fraud_type); found {sorted(labels.columns)}")


def cannot_train(frame: pd.DataFrame) -> str | None:
    """Why a labelled frame (``label_installs``) cannot train and test a model, or None."""
    days = frame["install_date"].nunique() if len(frame) else 0
    if days < 2:
        return f"features for {days} install day(s): the time split needs at least 2"
    positives = int(frame["label"].sum())
    if positives == 0 or positives == len(frame):
        return f"{positives} of {len(frame)} featured installs are labelled fraud: training needs both classes"
    return None


def label_installs(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``fraud_type`` per install (None = legitimate): the install's own label, else its winning touch's."""
    by_event = labels[labels["event_type"] == "install"].drop_duplicates("event_id").set_index("event_id")["fraud_type"]
    by_touch = labels[labels["event_type"] == "click"].drop_duplicates("touch_id").set_index("touch_id")["fraud_type"]
    out = features.copy()
    own = out["install_id"].map(by_event)
    via_click = out["winning_touch_id"].map(by_touch)
    out["fraud_type"] = own.fillna(via_click)
    out["label"] = out["fraud_type"].notna().astype(int)
    return out


class NotTrainable(ValueError):
    """The data cannot train and test a model (a state of the data, reported as a skip)."""


def time_split(frame: pd.DataFrame, test_share_days: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    days = sorted(frame["install_date"].unique())
    n_test = max(1, int(round(len(days) * test_share_days)))
    if len(days) < 2:
        raise ValueError("a time-based split needs at least two install days of features")
    test_days = set(days[-n_test:])
    test = frame["install_date"].isin(test_days)
    return frame[~test], frame[test]


def downsample(train: pd.DataFrame, neg_per_pos: float, seed: int) -> pd.DataFrame:
    pos, neg = train[train["label"] == 1], train[train["label"] == 0]
    n = min(len(neg), int(round(len(pos) * neg_per_pos)))
    return pd.concat([pos, neg.sample(n=n, random_state=seed)]).sort_values("install_id")


def matrix(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(MODEL_FEATURES)].astype("float64")


def explain(model: lgb.LGBMClassifier, x: pd.DataFrame, top: int = 3) -> list[str]:
    """Top feature contributions per row (TreeSHAP, in log-odds), as ``feature=+0.42;…``."""
    contrib = model.booster_.predict(x, pred_contrib=True)[:, :-1]
    names = np.array(x.columns)
    order = np.argsort(-np.abs(contrib), axis=1)[:, :top]
    return [";".join(f"{names[j]}={contrib[i, j]:+.2f}" for j in row) for i, row in enumerate(order)]


def evaluate(y: np.ndarray, score: np.ndarray, fraud_type: pd.Series, threshold: float) -> dict[str, float]:
    metrics = evaluation.binary_metrics(y, score, threshold)
    pred = score >= threshold
    for kind in sorted(fraud_type.dropna().unique()):
        mask = (fraud_type == kind).to_numpy()
        metrics[f"recall_{kind}"] = float(pred[mask].mean())
        metrics[f"positives_{kind}"] = float(mask.sum())
    return metrics


def train(features: pd.DataFrame, labels: pd.DataFrame, data_version: dict, params: TrainParams | None = None,
          register: bool = True) -> dict:
    """Train, evaluate on the held-out latest days, log everything to MLflow, register, and gate the
    ``champion`` alias on ROC-AUC over the same held-out rows. Returns metrics and the gate result."""
    params = params or TrainParams()
    frame = label_installs(features, labels)
    train_df, test_df = time_split(frame, params.test_share_days)
    fit_df = downsample(train_df, params.neg_per_pos, params.seed)
    if fit_df["label"].nunique() < 2 or test_df["label"].nunique() < 2:
        raise NotTrainable("the training and the held-out days each need fraud and legitimate installs")
    mlflow.set_experiment(experiment_id=tracking.experiment(EXPERIMENT, DESCRIPTION))
    with mlflow.start_run(run_name="fraud_classifier") as run:
        t0 = time.perf_counter()
        model = lgb.LGBMClassifier(random_state=params.seed, **params.lgb)
        model.fit(matrix(fit_df), fit_df["label"])
        train_s = time.perf_counter() - t0
        x_test = matrix(test_df)
        score = model.predict_proba(x_test)[:, 1]
        metrics = evaluate(test_df["label"].to_numpy(), score, test_df["fraud_type"], params.threshold)
        metrics.update(train_seconds=train_s, train_rows=float(len(fit_df)), test_rows=float(len(test_df)))
        importance = dict(zip(MODEL_FEATURES, model.booster_.feature_importance("gain").tolist(), strict=True))
        mlflow.log_params({"neg_per_pos": params.neg_per_pos, "test_share_days": params.test_share_days,
                           "threshold": params.threshold, "seed": params.seed,
                           "train_days": ",".join(sorted(train_df["install_date"].unique())),
                           "test_days": ",".join(sorted(test_df["install_date"].unique())),
                           **{f"lgb_{k}": v for k, v in params.lgb.items()},
                           **{f"data_version_{k}": v for k, v in data_version.items()}})
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_dict({"features": list(MODEL_FEATURES), "data_version": data_version}, "features.json")
        mlflow.log_input(mlflow.data.from_pandas(fit_df, name="fraud_training_frame", targets="label"),
                         context="training")
        mlflow.log_input(mlflow.data.from_pandas(test_df, name="fraud_held_out_days", targets="label"),
                         context="evaluation")
        figs = evaluation.figures(test_df["label"].to_numpy(), score, importance)
        pictures = {}
        for name, fig in figs.items():
            mlflow.log_figure(fig, f"plots/{name}")
            pictures[name] = evaluation.png(fig)
        evaluation.close(figs)
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(x_test.head(100), score[:100]),
            input_example=x_test.head(3), pyfunc_predict_fn="predict_proba",
            registered_model_name=MODEL_NAME if register else None, serialization_format="cloudpickle")
        result = {"run_id": run.info.run_id, "metrics": metrics, "importance": importance, "pictures": pictures}
        if register:
            version = str(info.registered_model_version)
            held_out_y = test_df["label"].to_numpy()

            def champion_auc(uri: str) -> float:
                champ = mlflow.sklearn.load_model(uri)
                return evaluation.binary_metrics(held_out_y, champ.predict_proba(x_test)[:, 1], 0.5)["roc_auc"]

            g = tracking.gate(MODEL_NAME, version, metrics["roc_auc"], champion_auc)
            mlflow.log_dict(g.as_dict(), "champion_gate.json")
            mlflow.set_tag("champion_gate", json.dumps(g.as_dict()))
            result["gate"] = g.as_dict()
    return result


def score(features: pd.DataFrame, model_uri: str | None = None, explain_from: float = 0.5) -> pd.DataFrame:
    """Fraud score per install with the champion (or ``model_uri``), and the top contributions
    for installs scored at ``explain_from`` or above (TreeSHAP costs about 1 ms per install with
    300 trees, so the rest get an empty explanation)."""
    model = mlflow.sklearn.load_model(model_uri or f"models:/{MODEL_NAME}@{tracking.CHAMPION}")
    x = matrix(features)
    out = features[["install_id", "app_id", "install_date"]].copy()
    out["fraud_score"] = model.predict_proba(x)[:, 1] if len(x) else np.array([], float)
    out["top_contributions"] = ""
    explained = (out["fraud_score"] >= explain_from).to_numpy()
    if explained.any():
        out.loc[explained, "top_contributions"] = explain(model, x[explained])
    return out


RULES_VERSION = "rules"


def rules_scores(features: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """The rules as a score, where no model is trained: 1 for an install a reject or flag decision
    names (its reasons as the explanation), else 0; model version ``rules``."""
    acted = decisions[decisions["action"].isin(["reject", "flag"])]
    reasons = acted.groupby("install_id")["reason"].agg(lambda r: ",".join(f"rule:{x}" for x in sorted(set(r))))
    out = features[["install_id", "app_id", "install_date"]].copy()
    out["top_contributions"] = out["install_id"].map(reasons).fillna("")  # "rule:device_farm,rule:..."
    out["fraud_score"] = (out["top_contributions"] != "").astype(float)
    out["model_version"] = RULES_VERSION
    return out[["install_id", "app_id", "install_date", "fraud_score", "top_contributions", "model_version"]]


def newest_version_auc() -> tuple[str, float] | None:
    """The newest registered version of the fraud model and its held-out ROC-AUC (None: none yet)."""
    client = MlflowClient()
    versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    if not versions:
        return None
    latest = max(versions, key=lambda v: int(v.version))
    return latest.version, client.get_run(latest.run_id).data.metrics["roc_auc"]


@dataclass(frozen=True)
class ScoringResult:
    installs: int
    installs_per_s: int
    model_version: str  # the champion's version, or RULES_VERSION
    flagged_share: float  # installs scored 0.5 or more


def score_dates(lake: Lake, client, start: date, end: date) -> ScoringResult:
    """Scores the install dates [start, end] with the champion, or the rules without one, into
    Delta and ClickHouse (the dates replaced)."""
    flt = [("install_date", ">=", start.isoformat()), ("install_date", "<=", end.isoformat())]
    features = lake.read(INSTALL_TABLE, filters=flt).to_pandas()
    champion = tracking.champion_version(MODEL_NAME)
    t0 = time.perf_counter()
    if champion:
        scores = score(features)
        scores["model_version"] = champion
    else:
        decisions = lake.read(pipeline.DECISIONS_TABLE, filters=flt).to_pandas() if lake.exists(
            pipeline.DECISIONS_TABLE) else pd.DataFrame(columns=["install_id", "reason", "action"])
        scores = rules_scores(features, decisions)
    seconds = time.perf_counter() - t0
    pipeline.store_scores(lake, client, pa.Table.from_pandas(scores, preserve_index=False), start, end)
    return ScoringResult(len(scores), round(len(scores) / max(seconds, 1e-9)), champion or RULES_VERSION,
                         float((scores["fraud_score"] >= 0.5).mean()) if len(scores) else 0.0)
