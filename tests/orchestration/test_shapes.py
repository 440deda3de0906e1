"""`unmogrowp run` on data the generator never makes (tests/shapes.py): 2017 history, iOS traffic
with no advertising ids (probabilistic matches only), networks no config lists, an all-organic app
with all its installs on one day, no fraud labels. The run succeeds and the marts are right."""

import os
import subprocess
import sys
from pathlib import Path

import clickhouse_connect
import pytest

from tests import shapes
from tests.conftest import free_port
from unmogrowp.clickhouse import manager
from unmogrowp.fraud import features as ff
from unmogrowp.lake import Lake


@pytest.fixture(scope="module")
def shaped(tmp_path_factory):
    """The whole pipeline run once through the command line on the shapes' landing zone."""
    home = tmp_path_factory.mktemp("shapes")
    answers = shapes.write(str(home / "landing"))
    shapes.write_user_config(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNMOGROWP_", "DAGSTER_", "MLFLOW_", "FEAST_"))}
    port = free_port()
    # no UNMOGROWP_PARTITIONS_START: the partitions start where the landing data starts (2017)
    env.update({"UNMOGROWP_HOME": str(home), "UNMOGROWP_CLICKHOUSE_PORT": str(port)})
    cli = Path(sys.executable).parent / "unmogrowp"
    done = subprocess.run([str(cli), "run", "--start", f"{shapes.START:%Y-%m-%dT%H}", "--end",
                           f"{shapes.END:%Y-%m-%dT%H}"], env=env, capture_output=True, text=True, timeout=2400)
    state, _ = manager.start(home, port)  # the run's server, still up (or started again on its data)
    client = clickhouse_connect.get_client(host=state.host, port=state.port)
    yield done, answers, client, Lake((home / "lake").as_uri())
    client.close()
    manager.stop(home)


def test_the_run_succeeds_and_says_what_it_skipped(shaped):
    done, *_ = shaped
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    out = done.stdout
    assert ": SUCCESS" in out and " 0 failed" in out
    assert "skipped fraud_model: no fraud labels" in out
    assert "fallback fraud_scores: rules" in out
    assert "warnings: silver_events:gx_silver_known_networks" in out  # networks outside the config warn only


def test_the_users_own_config_extends_the_defaults(shaped):
    """UNMOGROWP_HOME/config/network_priority.csv adds a network beside the seed's, untracked."""
    _done, _answers, ch, _lake = shaped
    priorities = dict(ch.query("SELECT media_source, priority FROM staging.stg_config__network_priority").result_rows)
    assert priorities[shapes.NETWORKS[0]] == 5 and priorities["adnet_alpha"] == 10


def test_probabilistic_only_traffic_is_attributed_to_the_right_clicks(shaped):
    _done, answers, ch, _lake = shaped
    rows = ch.query("SELECT install_id, attribution_status, match_method, winning_touch_id, media_source, ctit_s "
                    "FROM marts.fct_installs WHERE app_id = {a:String}",
                    parameters={"a": shapes.APP_PROBABILISTIC}).result_rows
    assert len(rows) == len(answers.attributed) + len(answers.organic_probabilistic) == 240
    got = {r[0]: r[1:] for r in rows}
    for install_id, (touch, network, ctit) in answers.attributed.items():
        assert got[install_id] == ("attributed", "probabilistic", touch, network, ctit)
    assert {got[i][:2] for i in answers.organic_probabilistic} == {("organic", "organic")}


def test_fraud_features_carry_the_touch_attribution_matched(shaped):
    """One definition of the touch an install came from: every attributed install has its winning
    touch, match method and CTIT in the Spark features, equal to fct_installs'."""
    _done, answers, ch, lake = shaped
    features = lake.read(ff.INSTALL_TABLE).to_pandas().set_index("install_id")
    prob = features[features["app_id"] == shapes.APP_PROBABILISTIC]
    assert len(prob) == 240
    for install_id, (touch, network, ctit) in answers.attributed.items():
        row = prob.loc[install_id]
        assert (row["winning_touch_id"], row["match_method"], row["media_source"], row["ctit_s"]) == (
            touch, "probabilistic", network, ctit)
    assert prob.loc[sorted(answers.organic_probabilistic), "winning_touch_id"].isna().all()
    # the click-quality labels come from the same matches: each attributed click is a positive
    matched = ch.command("SELECT count() FROM marts.fct_install_matches WHERE app_id = {a:String} "
                         "AND match_method = 'probabilistic'", parameters={"a": shapes.APP_PROBABILISTIC})
    assert matched == len(answers.attributed)


def test_all_organic_app_retention_and_no_scores_from_a_model(shaped):
    _done, answers, ch, _lake = shaped
    statuses = ch.query("SELECT attribution_status, count() FROM marts.fct_installs WHERE app_id = {a:String} "
                        "GROUP BY 1", parameters={"a": shapes.APP_ORGANIC}).result_rows
    assert statuses == [("organic", 200)]
    cells = dict(ch.query(
        "SELECT day_n, retained_classic FROM marts.fct_cohort_retention WHERE app_id = {a:String} "
        "AND day_mode = 'elapsed_24h' AND day_n IN (1, 7)", parameters={"a": shapes.APP_ORGANIC}).result_rows)
    assert cells == {1: answers.day1_returners / 200, 7: answers.day7_returners / 200}  # 0.5 and 0.2
    # no model was trained: the rules scored every install, saying so
    versions = ch.query("SELECT model_version, count() FROM fraud.install_scores GROUP BY 1").result_rows
    assert versions == [("rules", 440)]


def test_cohort_maturity_is_judged_per_app(shaped):
    """The probabilistic app's data ends on 2017-11-09: its D7 is not known yet, even though the
    organic app's data runs to 11-17."""
    _done, _answers, ch, _lake = shaped
    d7 = ch.query("SELECT countIf(retained_classic IS NULL), count() FROM marts.fct_cohort_retention "
                  "WHERE app_id = {a:String} AND day_mode = 'elapsed_24h' AND day_n = 7",
                  parameters={"a": shapes.APP_PROBABILISTIC}).result_rows[0]
    assert d7[1] > 0 and d7[0] == d7[1]
