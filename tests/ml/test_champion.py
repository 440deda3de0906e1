"""MLflow: every training run is tracked, the champion alias moves only on a better held-out score,
and scoring loads the champion."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from ml import fraud_model as fm
from ml import tracking
from unmogrowp.fraud.features import MODEL_FEATURES


def synthetic(seed=3, days=("2026-09-01", "2026-09-02", "2026-09-03"), n=600):
    """Installs whose fraud depends on two features (farm IP, no sessions), plus noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for d in days:
        f = pd.DataFrame({c: rng.random(n) for c in MODEL_FEATURES})
        f["ip_devices_24h"] = rng.integers(0, 8, n)
        f["sessions_24h"] = rng.integers(0, 3, n)
        f["install_id"] = [f"{d}-{i}" for i in range(n)]
        f["app_id"], f["install_date"], f["winning_touch_id"] = "app", d, None
        frames.append(f)
    f = pd.concat(frames, ignore_index=True)
    fraud = (f["ip_devices_24h"] >= 5) | ((f["sessions_24h"] == 0) & (rng.random(len(f)) < 0.5))
    labels = pd.DataFrame({"app_id": "app", "event_id": f.loc[fraud, "install_id"], "event_type": "install",
                           "touch_id": None, "fraud_type": np.where(f.loc[fraud, "ip_devices_24h"] >= 5,
                                                                    "device_farm", "bot_behaviour")})
    return f, labels


def test_champion_moves_only_on_a_better_held_out_score(mlflow_home):
    features, labels = synthetic()
    good = fm.train(features, labels, {"fraud_install_features": 1})
    assert good["gate"]["promoted"] and good["gate"]["champion_version"] is None
    assert good["metrics"]["roc_auc"] > 0.9
    assert tracking.champion_version(fm.MODEL_NAME) == good["gate"]["candidate_version"]

    # a crippled model (one stump) loses to the champion on the same held-out days: no promotion
    weak = fm.TrainParams(lgb={"n_estimators": 1, "num_leaves": 2, "max_depth": 1, "verbose": -1})
    bad = fm.train(features, labels, {"fraud_install_features": 1}, weak)
    assert not bad["gate"]["promoted"]
    assert bad["gate"]["champion_score"] == pytest.approx(good["metrics"]["roc_auc"])
    assert tracking.champion_version(fm.MODEL_NAME) == good["gate"]["candidate_version"]

    run = mlflow.get_run(bad["run_id"])
    assert {"roc_auc", "pr_auc", "recall_device_farm", "recall_bot_behaviour"} <= set(run.data.metrics)
    assert run.data.params["data_version_fraud_install_features"] == "1"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(bad["run_id"], "plots")}
    assert artifacts == {"plots/roc.png", "plots/pr.png", "plots/calibration.png", "plots/feature_importance.png"}


def test_scoring_loads_the_champion_and_explains(mlflow_home):
    features, labels = synthetic(seed=5)
    result = fm.train(features, labels, {"fraud_install_features": 2})
    day = features[features["install_date"] == "2026-09-03"]
    scores = fm.score(day)
    assert len(scores) == len(day) and scores["fraud_score"].between(0, 1).all()
    farm = day["ip_devices_24h"] >= 5
    assert scores.loc[farm.to_numpy(), "fraud_score"].mean() > scores.loc[~farm.to_numpy(), "fraud_score"].mean() + 0.3
    # the explanation of a farm install names the farm feature first
    top = scores.loc[farm.to_numpy(), "top_contributions"].str.split("=").str[0]
    assert (top == "ip_devices_24h").mean() > 0.8
    # explanations are computed for the installs at or above the operating threshold only
    assert ((scores["top_contributions"] != "") == (scores["fraud_score"] >= 0.5)).all()
    champion = mlflow.sklearn.load_model(f"models:/{fm.MODEL_NAME}@champion")
    np.testing.assert_allclose(champion.predict_proba(fm.matrix(day))[:, 1], scores["fraud_score"])
    assert result["gate"]["promoted"]


def test_configure_switches_stores(tmp_path):
    """MLflow writes the tracking URI into os.environ; a second configure must still move."""
    first = tracking.configure(tmp_path / "a")
    second = tracking.configure(tmp_path / "b")
    assert first != second and mlflow.get_tracking_uri() == second == mlflow.get_registry_uri()
    assert str(tmp_path / "b") in second
    assert tracking.configure(tmp_path / "c", tracking_uri="http://tracking:5000") == "http://tracking:5000"
    mlflow.set_tracking_uri(None)
