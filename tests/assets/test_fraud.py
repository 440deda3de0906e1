"""The fraud model's check called on its own against a local MLflow store in tmp_path."""

import dagster as dg

from assets.fraud import fraud_auc_above_floor
from assets.outcomes import SKIPPED
from assets.resources import MlResource


def test_the_auc_check_passes_saying_why_when_no_model_is_trained(tmp_path):
    context = dg.build_asset_check_context(resources={"ml": MlResource(home=str(tmp_path), labels_path="")})
    result = fraud_auc_above_floor(context)
    assert result.passed
    assert result.metadata[SKIPPED].value == "no fraud model trained yet (see fraud_model's skip reason)"
    assert (tmp_path / "mlflow").exists()  # the resource's setup pointed MLflow at the home
