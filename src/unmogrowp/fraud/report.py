"""Fraud figures for the demo and the tests: decision shares and the rules against ground truth."""

from __future__ import annotations

from datetime import date

import pandas as pd

INJECTION_SLACK_MS = 3_600_000  # an injected click fires between install_begin and the first open


def decision_shares(client, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Installs with a decision, by reason and action (with its stage), as a share of all installs;
    with ``start`` and ``end``, of the installs dated in [start, end] (install date, UTC)."""
    if (start is None) != (end is None):
        raise ValueError("decision_shares: give both start and end, or neither")
    where, installs_where, params = "", "", {}
    if start is not None:
        where = "WHERE install_date BETWEEN {lo:Date} AND {hi:Date}"
        installs_where = "WHERE toDate(install_ts, 'UTC') BETWEEN {lo:Date} AND {hi:Date}"
        params = {"lo": start, "hi": end}
    return client.query_df(f"""
        SELECT reason, action, any(stage) AS stage, uniqExact(install_id) AS installs,
               installs / (SELECT count() FROM marts.fct_installs {installs_where}) AS share
        FROM marts.fct_fraud_decisions {where}
        GROUP BY reason, action ORDER BY installs DESC, reason, action""", parameters=params)


def injection_truth(client, labels: pd.DataFrame) -> set[str]:
    """Install ids that received an injected click (generator labels): the device's first install
    within the hour after the labelled click."""
    ids = labels.loc[(labels["fraud_type"] == "click_injection") & (labels["event_type"] == "click"), "touch_id"]
    if ids.empty:
        return set()
    pairs = client.query_df("""
        SELECT i.install_id AS install_id, t.touch_id AS touch_id
        FROM staging.stg_sdk__touches AS t
        INNER JOIN staging.stg_sdk__installs AS i ON i.app_id = t.app_id AND i.device_id = t.device_id
        WHERE t.touch_id IN {ids:Array(String)}
          AND i.install_ts >= t.touch_ts AND i.install_ts <= t.touch_ts + toIntervalMillisecond({slack:UInt32})
        ORDER BY i.install_ts""", parameters={"ids": ids.tolist(), "slack": INJECTION_SLACK_MS})
    return set(pairs.drop_duplicates("touch_id")["install_id"])


def injection_rule_metrics(client, labels: pd.DataFrame) -> dict[str, float]:
    """Recall of the click-injection rule on injected installs and its false rejections (rejected
    for click injection although no injected click reached the install) over the other installs."""
    truth = injection_truth(client, labels)
    caught = set(client.query_df(
        "SELECT DISTINCT install_id FROM marts.fct_installs WHERE has(fraud_reasons, 'click_injection')")["install_id"])
    total = client.command("SELECT count() FROM marts.fct_installs")
    negatives = max(1, total - len(truth))
    return {"injected_installs": len(truth), "caught": len(truth & caught),
            "recall": len(truth & caught) / len(truth) if truth else float("nan"),
            "false_rejections": len(caught - truth), "false_rejection_rate": len(caught - truth) / negatives}
