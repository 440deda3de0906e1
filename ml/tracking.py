"""MLflow set-up and the champion gate shared by every model.

Locally: a sqlite backend and an artifact directory under ``UNMOGROWP_HOME/mlflow``. In production
``MLFLOW_TRACKING_URI`` (and ``MLFLOW_REGISTRY_URI``) point at the tracking server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient

CHAMPION = "champion"


def configure(home: Path | None = None) -> str:
    """Point MLflow at the environment's tracking store; returns the tracking URI."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        home = Path(home or os.environ.get("UNMOGROWP_HOME", ".lakehouse")).resolve()
        (home / "mlflow" / "artifacts").mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        os.environ.setdefault("MLFLOW_ARTIFACT_ROOT", (home / "mlflow" / "artifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI", uri))
    return uri


def experiment(name: str) -> str:
    """The experiment id, created with the environment's artifact root the first time."""
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = os.environ.get("MLFLOW_ARTIFACT_ROOT")
    return mlflow.create_experiment(name, artifact_location=f"{root.rstrip('/')}/{name}" if root else None)


@dataclass(frozen=True)
class GateResult:
    promoted: bool
    candidate_version: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None

    def as_dict(self) -> dict:
        return {"promoted": self.promoted, "candidate_version": self.candidate_version,
                "candidate_score": self.candidate_score, "champion_version": self.champion_version,
                "champion_score": self.champion_score}


def champion_version(name: str) -> str | None:
    client = MlflowClient()
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except mlflow.exceptions.MlflowException:
        return None


def gate(name: str, candidate_version: str, candidate_score: float, champion_score_fn,
         higher_is_better: bool = True) -> GateResult:
    """Give ``candidate_version`` the champion alias only if it beats the current champion on the
    same held-out data: ``champion_score_fn(model_uri)`` scores the champion on that data."""
    current = champion_version(name)
    champ_score = None
    if current is not None:
        champ_score = float(champion_score_fn(f"models:/{name}@{CHAMPION}"))
    better = (current is None
              or (candidate_score > champ_score if higher_is_better else candidate_score < champ_score))
    if better:
        MlflowClient().set_registered_model_alias(name, CHAMPION, candidate_version)
    return GateResult(better, str(candidate_version), float(candidate_score), current, champ_score)


def load_champion(name: str):
    """The champion as a pyfunc model (what batch scoring uses)."""
    return mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION}")


def load_champion_sklearn(name: str):
    """The champion in its native (scikit-learn API) flavour, for scores plus explanations."""
    return mlflow.sklearn.load_model(f"models:/{name}@{CHAMPION}")
