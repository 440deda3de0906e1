import mlflow
import pytest

from ml import tracking


@pytest.fixture
def mlflow_home(tmp_path, monkeypatch):
    """A fresh MLflow store (sqlite + artifact directory) for one test."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ARTIFACT_ROOT", raising=False)
    tracking.configure(tmp_path)
    yield tmp_path
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def spark():
    from unmogrowp.spark import get_spark

    return get_spark()
