"""MLflow set-up and the champion gate shared by every model.

Locally: a sqlite backend and an artifact directory under ``UNMOGROWP_HOME/mlflow``. In production
the settings carry the tracking server's URI (``MLFLOW_TRACKING_URI`` when the settings are loaded;
``MLFLOW_REGISTRY_URI`` and ``MLFLOW_ARTIFACT_ROOT`` likewise). MLflow writes the URI it is given
back into ``os.environ``, so this module never reads it from there after start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient

CHAMPION = "champion"
_artifact_root: str | None = None


def local_store(home: Path) -> tuple[str, str]:
    """The sqlite tracking URI and artifact root under ``home/mlflow`` (created)."""
    home = Path(home).resolve()
    (home / "mlflow" / "artifacts").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow' / 'mlflow.db'}", (home / "mlflow" / "artifacts").as_uri()


def configure(home: Path, tracking_uri: str = "", registry_uri: str = "", artifact_root: str = "") -> str:
    """Point MLflow at ``tracking_uri`` or, when it is empty, at the local store under ``home``;
    returns the tracking URI."""
    global _artifact_root
    if tracking_uri:
        uri, _artifact_root = tracking_uri, artifact_root or None
    else:
        uri, _artifact_root = local_store(home)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry_uri or uri)
    return uri


# what the MLflow UI shows on an experiment's page: its description (the note), and the runs view
# rather than the GenAI traces page MLflow 3 opens on for an experiment of no kind
NOTE_TAG, KIND_TAG, KIND = "mlflow.note.content", "mlflow.experimentKind", "custom_model_development"


def experiment(name: str, description: str = "") -> str:
    """The experiment id, created with the configured artifact root the first time; its description
    and kind are (re)set so the MLflow UI opens on its runs."""
    tags = {KIND_TAG: KIND, **({NOTE_TAG: description} if description else {})}
    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        root = _artifact_root
        return mlflow.create_experiment(name, artifact_location=f"{root.rstrip('/')}/{name}" if root else None,
                                        tags=tags)
    client = MlflowClient()
    for key, value in tags.items():
        if exp.tags.get(key) != value:
            client.set_experiment_tag(exp.experiment_id, key, value)
    return exp.experiment_id


def run_url(ui_url: str, run_id: str) -> str:
    """The run's page in the MLflow UI at ``ui_url``."""
    run = MlflowClient().get_run(run_id)
    return f"{ui_url.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"


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


def load_champion_sklearn(name: str):
    """The champion in its native (scikit-learn API) flavour, for scores plus explanations."""
    return mlflow.sklearn.load_model(f"models:/{name}@{CHAMPION}")
