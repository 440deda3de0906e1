"""The daily growth report: one self-contained HTML page per day from the ClickHouse marts.

``build_report(client, date)`` reads the marts (every query parameterised, ``{d:Date}``) and
draws the charts of ``unmogrowp.charts``; the page carries its CSS in a <style> tag and its
charts as data: URIs, no script and no external reference, so it can be mailed or archived as
one file. Sections: headline KPIs, attribution, cohorts, ROAS, fraud, model health, multi-touch.

The ``*_frame(client, start, end)`` functions return the DataFrames the matching chart functions
take, for inclusive install (or conversion) date ranges, so Dagster assets can draw the same
pictures per materialization. Dates are calendar dates of ``install_ts`` in UTC, the reporting
time zone of the marts (dbt var ``unmogrowp__reporting_timezone``), like the cohorts.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from unmogrowp import charts
from unmogrowp.fraud import report as fraud_report
from unmogrowp.fraud.rules import FLOODING_CTIT_S, RuleSet
from unmogrowp.warehouse import FRAUD, MARTS, ML

INSTALLS = f"{MARTS}.fct_installs"
MATCHES = f"{MARTS}.fct_install_matches"
RETENTION = f"{MARTS}.fct_cohort_retention"
KPIS = f"{MARTS}.fct_cohort_kpis"
REVENUE = f"{MARTS}.fct_revenue_events"
DECISIONS = f"{MARTS}.fct_fraud_decisions"
CHANNEL_CREDITS = f"{MARTS}.fct_channel_credits"
FRAUD_SCORES = f"{FRAUD}.install_scores"
LTV_PREDICTIONS = f"{ML}.ltv_predictions"
COHORT_DAYS = 14  # install days of the retention heatmap and the ROAS curves, ending on the report date
MAX_DAY = 14  # day_n shown in the heatmap and the curves
STATUSES = ("attributed", "organic", "rejected_fraud", "rejected_targeting")
MODEL_NAMES = {"fraud": "fraud_install_classifier", "ltv": "ltv_regressor"}  # ml/fraud_model.py, ml/ltv.py
# the held-out metrics the registry table shows (ml/fraud_model.py evaluate, ml/ltv.py train)
MODEL_METRICS = {"fraud": ("roc_auc", "pr_auc", "precision", "recall"),
                 "ltv": ("mape_total", "mae_per_install", "mape_bgnbd_gamma_gamma")}
SECTIONS = ("Headline KPIs", "Attribution", "Cohorts", "ROAS", "Fraud", "Model health", "Multi-touch")


class ReportError(RuntimeError):
    """The warehouse cannot give a report (no marts yet)."""


@dataclass
class Report:
    report_date: date
    html: str
    kpis: dict = field(default_factory=dict)  # the headline figures (numbers, None where unknown)
    has_data: bool = False  # installs on the report date

    @property
    def filename(self) -> str:
        return f"growth_{self.report_date.isoformat()}.html"


def write_report(report: Report, path: str | os.PathLike) -> Path:
    """Write the page (UTF-8) to ``path``, its directory created; atomically (a temporary file
    renamed into place). Returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(report.html, encoding="utf-8")
    tmp.replace(target)
    return target


# -- frames (inclusive date ranges) ---------------------------------------------------------------
def _range(start: date, end: date) -> dict:
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    return {"lo": start, "hi": end}


def installs_by_network_frame(client, start: date, end: date) -> pd.DataFrame:
    """New installs (install_kind 'install') per network and attribution status: network,
    status, installs (for ``charts.installs_by_network``)."""
    return client.query_df(f"""
        SELECT i.media_source AS network, i.attribution_status AS status, toInt64(count()) AS installs
        FROM {INSTALLS} AS i
        WHERE toDate(i.install_ts, 'UTC') BETWEEN {{lo:Date}} AND {{hi:Date}} AND i.install_kind = 'install'
        GROUP BY i.media_source, i.attribution_status ORDER BY network, status""", parameters=_range(start, end))


def retention_frame(client, start: date, end: date, day_mode: str = "elapsed_24h",
                    max_day: int = MAX_DAY) -> pd.DataFrame:
    """Classic retention per install date and day_n over every cohort cell of the date:
    install_date, day_n, retention (active users / cohort size; NULL while any cell of the date
    is immature, SPEC §5), cohort_size (for ``charts.retention_heatmap``)."""
    return client.query_df(f"""
        SELECT r.install_date AS install_date, toInt64(r.day_n) AS day_n,
               if(countIf(r.retained_classic IS NULL) > 0, NULL,
                  sum(r.active_users) / sum(r.cohort_size)) AS retention,
               toInt64(sum(r.cohort_size)) AS cohort_size
        FROM {RETENTION} AS r
        WHERE r.install_date BETWEEN {{lo:Date}} AND {{hi:Date}} AND r.day_mode = {{mode:String}}
          AND r.day_n <= {{max_day:UInt16}}
        GROUP BY r.install_date, r.day_n ORDER BY install_date, day_n""",
                           parameters={**_range(start, end), "mode": day_mode, "max_day": max_day})


def roas_frame(client, start: date, end: date, max_day: int = MAX_DAY) -> pd.DataFrame:
    """ROAS_N per paid campaign over the cohorts installed in the range: campaign, network,
    day_n, roas, spend. ROAS_N = cumulative revenue / cost over the install dates whose day N is
    mature for every cell of the campaign (NULL when no date is), so each point is over whole
    days; spend is the campaign's cost over the range (for ``charts.roas_curves``)."""
    return client.query_df(f"""
        SELECT campaign, any(net) AS network, dn AS day_n,
               sumIf(rev, mature) / nullIf(sumIf(spent, mature), 0) AS roas, sum(spent) AS spend
        FROM (
            SELECT k.campaign_id AS campaign, any(k.media_source) AS net, toInt64(k.day_n) AS dn,
                   min(k.is_mature) AS mature, sum(k.cumrev) AS rev, sum(k.cost) AS spent
            FROM {KPIS} AS k
            WHERE k.install_date BETWEEN {{lo:Date}} AND {{hi:Date}} AND k.media_source != 'organic'
              AND k.campaign_id IS NOT NULL AND k.day_n <= {{max_day:UInt16}}
            GROUP BY k.campaign_id, k.install_date, k.day_n
        )
        GROUP BY campaign, dn ORDER BY campaign, day_n""",
                           parameters={**_range(start, end), "max_day": max_day})


def ctit_frame(client, start: date, end: date) -> pd.DataFrame:
    """CTIT of every install won by a click, before any fraud rule (fct_install_matches: the
    touch the rules judge): site_id, media_source, ctit_s (for ``charts.ctit_by_site``)."""
    return client.query_df(f"""
        SELECT m.site_id AS site_id, m.media_source AS media_source, toInt64(m.ctit_s) AS ctit_s
        FROM {MATCHES} AS m
        WHERE m.install_date BETWEEN {{lo:Date}} AND {{hi:Date}} AND m.touch_type = 'click'
          AND m.ctit_s IS NOT NULL
        ORDER BY m.install_id""", parameters=_range(start, end))


def credit_frame(client, start: date, end: date, conversion_type: str = "install") -> pd.DataFrame:
    """Conversions credited per channel and model for the conversions dated in the range
    (fct_channel_credits, every model side by side): channel, model, credit (conversions),
    value (credited value) (for ``charts.credit_comparison``)."""
    return client.query_df(f"""
        SELECT c.media_source AS channel, c.model AS model, sum(c.conversions) AS credit,
               sum(c.credited_value) AS value
        FROM {CHANNEL_CREDITS} AS c
        WHERE c.conversion_date BETWEEN {{lo:Date}} AND {{hi:Date}} AND c.conversion_type = {{kind:String}}
        GROUP BY c.media_source, c.model ORDER BY channel, model""",
                           parameters={**_range(start, end), "kind": conversion_type})


def ltv_backtest_frame(client, start: date, end: date) -> pd.DataFrame:
    """Predicted against actual cumulative revenue at the LTV model's horizon per install-date
    cohort, where the horizon day is mature and every cell is scored: cohort, predicted, actual,
    installs, horizon_days (for ``charts.ltv_backtest``)."""
    return client.query_df(f"""
        SELECT toString(k.install_date) AS cohort, sum(k.predicted_ltv * k.installs) AS predicted,
               sum(k.cumrev) AS actual, toInt64(sum(k.installs)) AS cohort_installs,
               toInt64(any(k.prediction_horizon_days)) AS horizon_days
        FROM {KPIS} AS k
        WHERE k.install_date BETWEEN {{lo:Date}} AND {{hi:Date}} AND k.installs > 0
          AND k.prediction_horizon_days > 0 AND k.day_n = k.prediction_horizon_days - 1
        GROUP BY k.install_date
        HAVING countIf(k.predicted_ltv IS NULL OR NOT k.is_mature) = 0
        ORDER BY k.install_date""", parameters=_range(start, end))


def score_explanations_frame(client, start: date, end: date) -> pd.DataFrame:
    """How often each feature (model: TreeSHAP top contributions) or rule (rules scoring) explains
    an install's fraud score: feature, installs."""
    rows = client.query_df(f"""
        SELECT top_contributions FROM {FRAUD_SCORES}
        WHERE install_date BETWEEN {{lo:Date}} AND {{hi:Date}} AND top_contributions != ''""",
                           parameters=_range(start, end))
    counts: dict[str, int] = {}
    for text in rows["top_contributions"] if len(rows) else ():
        for name in {p.split("=", 1)[0].strip() for p in re.split(r"[;,]", text) if p.strip()}:
            counts[name] = counts.get(name, 0) + 1
    return pd.DataFrame(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), columns=["feature", "installs"])


# -- headline figures ---------------------------------------------------------------------------
def headline_kpis(client, d: date, tables: set[str] | None = None) -> dict:
    """The day's figures: new installs by status (attributed = paid), reinstalls and
    re-attributions, installs with fraud decisions (rejected, flagged, tagged), spend, eCPI
    (spend / attributed installs), D1 classic retention of the day's cohort (None until mature),
    the day's revenue (events on the day, every cohort) and the cohort's D0 revenue."""
    tables = _tables(client) if tables is None else tables
    p = {"d": d}
    kinds = dict(client.query(f"""
        SELECT install_kind, count() FROM {INSTALLS}
        WHERE toDate(install_ts, 'UTC') = {{d:Date}} GROUP BY install_kind""", parameters=p).result_rows)
    status = dict(client.query(f"""
        SELECT attribution_status, count() FROM {INSTALLS}
        WHERE toDate(install_ts, 'UTC') = {{d:Date}} AND install_kind = 'install'
        GROUP BY attribution_status""", parameters=p).result_rows)
    k: dict = {"date": d.isoformat(), "installs_all_kinds": int(sum(kinds.values())),
               "new_installs": int(kinds.get("install", 0)), "reinstalls": int(kinds.get("reinstall", 0)),
               "reattributions": int(kinds.get("reattribution", 0))}
    for s in STATUSES:
        k[f"installs_{s}"] = int(status.get(s, 0))
    k["paid_installs"], k["organic_installs"] = k["installs_attributed"], k["installs_organic"]
    k["paid_share"] = k["paid_installs"] / k["new_installs"] if k["new_installs"] else None
    k.update(fraud_installs_rejected=None, fraud_installs_flagged=None, fraud_installs_tagged=None,
             fraud_clawbacks=None)
    if DECISIONS in tables:
        (rej, flag, tag, claw), = client.query(f"""
            SELECT uniqExactIf(install_id, action = 'reject'), uniqExactIf(install_id, action = 'flag'),
                   uniqExactIf(install_id, action = 'tag'), uniqExactIf(install_id, is_clawback)
            FROM {DECISIONS} WHERE install_date = {{d:Date}}""", parameters=p).result_rows
        k.update(fraud_installs_rejected=int(rej), fraud_installs_flagged=int(flag), fraud_installs_tagged=int(tag),
                 fraud_clawbacks=int(claw))
    k.update(spend=None, ecpi=None, currency=None, cohort_revenue_d0=None)
    if KPIS in tables:
        (cells, spend, currency, rev0, mature0), = client.query(f"""
            SELECT count(), sum(cost), any(reporting_currency), sum(cumrev), min(is_mature)
            FROM {KPIS} WHERE install_date = {{d:Date}} AND day_n = 0""", parameters=p).result_rows
        if cells:
            k["spend"], k["currency"] = float(spend or 0.0), currency
            k["ecpi"] = k["spend"] / k["paid_installs"] if k["paid_installs"] else None
            k["cohort_revenue_d0"] = float(rev0 or 0.0) if mature0 else None
    k.update(d1_retention=None, d1_cohort_size=None)
    if RETENTION in tables:
        (cells, size, active, immature), = client.query(f"""
            SELECT count(), sum(cohort_size), sum(active_users), countIf(retained_classic IS NULL)
            FROM {RETENTION}
            WHERE install_date = {{d:Date}} AND day_mode = 'elapsed_24h' AND day_n = 1""", parameters=p).result_rows
        if cells:
            k["d1_cohort_size"] = int(size)
            k["d1_retention"] = float(active) / float(size) if not immature and size else None
    k["revenue"] = None
    if REVENUE in tables:
        (events, revenue, currency), = client.query(f"""
            SELECT count(), sum(revenue), any(reporting_currency) FROM {REVENUE}
            WHERE toDate(event_ts, 'UTC') = {{d:Date}}""", parameters=p).result_rows
        k["revenue"] = float(revenue or 0.0) if events else (0.0 if k["new_installs"] else None)
        k["currency"] = k["currency"] or (currency if events else None)
    return k


def model_scores(client, d: date, tables: set[str]) -> dict:
    """Who scored the day: the fraud scores' model versions ('rules' without a champion) and the
    LTV predictions' versions and horizon, from ClickHouse."""
    out: dict = {"fraud": [], "ltv": []}
    if FRAUD_SCORES in tables:
        out["fraud"] = [dict(zip(("model_version", "installs", "mean_score", "flagged_share"), r, strict=True))
                        for r in client.query(f"""
            SELECT model_version, count(), avg(fraud_score), countIf(fraud_score >= 0.5) / count()
            FROM {FRAUD_SCORES} WHERE install_date = {{d:Date}}
            GROUP BY model_version ORDER BY model_version""", parameters={"d": d}).result_rows]
    if LTV_PREDICTIONS in tables:
        out["ltv"] = [dict(zip(("model_version", "horizon_days", "installs", "mean_predicted"), r, strict=True))
                      for r in client.query(f"""
            SELECT model_version, horizon_days, count(), avg(predicted_revenue)
            FROM {LTV_PREDICTIONS} WHERE install_date = {{d:Date}}
            GROUP BY model_version, horizon_days ORDER BY model_version, horizon_days""",
                                                parameters={"d": d}).result_rows]
    return out


def mlflow_models(tracking_uri: str) -> list[dict]:
    """The registered fraud and LTV models in MLflow: newest and champion versions and the
    champion's (else the newest's) metrics. Raises what MLflow raises (the caller reports it)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    rows = []
    for kind, name in MODEL_NAMES.items():
        versions = client.search_model_versions(f"name='{name}'")
        if not versions:
            rows.append({"model": name, "kind": kind, "newest": None, "champion": None, "metrics": {}})
            continue
        newest = max(versions, key=lambda v: int(v.version))
        try:
            champion = client.get_model_version_by_alias(name, "champion")
        except MlflowException:
            champion = None
        shown = champion or newest
        metrics = client.get_run(shown.run_id).data.metrics if shown.run_id else {}
        rows.append({"model": name, "kind": kind, "newest": str(newest.version),
                     "champion": str(champion.version) if champion else None,
                     "metrics": {m: float(v) for m, v in sorted(metrics.items())}})
    return rows


# -- the page -----------------------------------------------------------------------------------
def _tables(client) -> set[str]:
    rows = client.query("""SELECT database, name FROM system.tables
                           WHERE database IN {dbs:Array(String)}""", parameters={"dbs": [MARTS, FRAUD, ML]}).result_rows
    return {f"{db}.{name}" for db, name in rows}


def build_report(client, report_date: date, cohort_days: int = COHORT_DAYS, max_day: int = MAX_DAY,
                 rules: RuleSet | None = None, mlflow_tracking_uri: str | None = None,
                 generated_at: datetime | None = None) -> Report:
    """The report of ``report_date``: KPIs of the day, its attribution, the trailing
    ``cohort_days`` install days' retention and ROAS, the day's fraud decisions and CTIT per site,
    model health (ClickHouse's score tables; MLflow's registry too when ``mlflow_tracking_uri`` is
    given) and multi-touch credit. A day without installs renders with "no data for <date>".
    Raises ReportError when the warehouse has no marts.fct_installs yet."""
    tables = _tables(client)
    if INSTALLS not in tables:
        raise ReportError(f"{INSTALLS} does not exist in the warehouse: run the pipeline first (`unmogrowp run`)")
    rules = rules or RuleSet()
    d = report_date
    first = d - timedelta(days=max(cohort_days, 1) - 1)
    kpis = headline_kpis(client, d, tables)
    has_data = kpis["installs_all_kinds"] > 0
    page = _Page(d, generated_at or datetime.now(UTC))
    if not has_data:
        span = client.query(f"SELECT min(toDate(install_ts, 'UTC')), max(toDate(install_ts, 'UTC')), count() "
                            f"FROM {INSTALLS}").result_rows[0]
        known = f"installs from {span[0]} to {span[1]}" if span[2] else "no installs at all yet"
        page.banner(f"no data for {d.isoformat()}: no install on that date (the warehouse has {known})")

    # headline KPIs
    cur = kpis["currency"] or ""
    cards = [("New installs", _n(kpis["new_installs"]), f"{_n(kpis['reinstalls'])} reinstalls, "
              f"{_n(kpis['reattributions'])} re-attributions"),
             ("Paid (attributed)", _n(kpis["paid_installs"]), f"{_pct(kpis['paid_share'])} of new installs"),
             ("Organic", _n(kpis["organic_installs"]), ""),
             ("Rejected by fraud", _n(kpis["installs_rejected_fraud"]),
              f"{_n(kpis['fraud_installs_flagged'])} flagged after attribution"),
             ("Spend", _money(kpis["spend"], cur), "cost of the install date (latest pull)"),
             ("eCPI", _money(kpis["ecpi"], cur), "spend / attributed installs"),
             ("D1 retention", _pct(kpis["d1_retention"]),
              "classic, elapsed 24 h" if kpis["d1_retention"] is not None
              else "no cohort" if kpis["d1_cohort_size"] is None else "not mature yet"),
             ("Revenue", _money(kpis["revenue"], cur), "events on the day, every cohort")]
    body = page.cards(cards) + page.table(
        ["figure", "value"],
        [("new installs (install_kind = install)", _n(kpis["new_installs"])),
         *((f"  {s}", _n(kpis[f"installs_{s}"])) for s in STATUSES),
         ("reinstalls (within the re-attribution window)", _n(kpis["reinstalls"])),
         ("re-attributions (retargeting)", _n(kpis["reattributions"])),
         ("installs with a fraud rejection (pre-attribution, touch or install)", _n(kpis["fraud_installs_rejected"])),
         ("installs flagged (post-attribution)", _n(kpis["fraud_installs_flagged"])),
         ("  of which clawbacks (flagged paid installs)", _n(kpis["fraud_clawbacks"])),
         ("installs tagged (dry run)", _n(kpis["fraud_installs_tagged"])),
         ("spend", _money(kpis["spend"], cur)), ("eCPI", _money(kpis["ecpi"], cur)),
         ("D1 classic retention of the day's cohort", _pct(kpis["d1_retention"])
          + ("" if kpis["d1_cohort_size"] is None else f" of {_n(kpis['d1_cohort_size'])} users")),
         ("revenue of the day (every cohort)", _money(kpis["revenue"], cur)),
         ("D0 revenue of the day's cohort", _money(kpis["cohort_revenue_d0"], cur))], numeric=(1,))
    page.section("Headline KPIs", body)

    # attribution
    net = installs_by_network_frame(client, d, d)
    body = page.image(charts.installs_by_network(net), f"installs by network and status, {d}")
    if len(net):
        wide = net.pivot_table(index="network", columns="status", values="installs", aggfunc="sum", fill_value=0)
        wide = wide.reindex(columns=[s for s in STATUSES if s in wide.columns]
                            + sorted(c for c in wide.columns if c not in STATUSES))
        wide["total"] = wide.sum(axis=1)
        wide = wide.sort_values("total", ascending=False, kind="stable")
        body += page.table(["network", *wide.columns],
                           [(n, *(_n(v) for v in row)) for n, row in zip(wide.index, wide.to_numpy(), strict=True)],
                           numeric=range(1, len(wide.columns) + 1))
    else:
        body += page.empty(f"no new installs on {d}")
    page.section("Attribution", body, "New installs of the day by winning network and attribution status.")

    # cohorts
    if RETENTION in tables:
        ret = retention_frame(client, first, d, max_day=max_day)
        body = page.image(charts.retention_heatmap(ret, title=f"Classic retention, cohorts {first} to {d}"),
                          f"retention heatmap {first} to {d}")
        sizes = ret.groupby("install_date")["cohort_size"].max() if len(ret) else pd.Series(dtype=int)
        if len(sizes):
            body += page.table(["install date", "cohort size", "D1", "D7"],
                               [(str(pd.Timestamp(i).date()), _n(s), _pct(_cell(ret, i, 1)), _pct(_cell(ret, i, 7)))
                                for i, s in sizes.items()], numeric=(1, 2, 3))
        else:
            body += page.empty(f"no cohort installed from {first} to {d}")
    else:
        body = page.empty(f"{RETENTION} is not built yet")
    page.section("Cohorts", body, f"Classic retention (elapsed 24 h days) of the install days {first} to {d}; "
                                  "grey cells are not mature yet (NULL, never 0).")

    # ROAS
    if KPIS in tables:
        roas = roas_frame(client, first, d, max_day=max_day)
        body = page.image(charts.roas_curves(roas, title="ROAS"), f"ROAS curves {first} to {d}")
        if len(roas):
            last = (roas.dropna(subset=["roas"]).sort_values("day_n").groupby("campaign").tail(1)
                    .set_index("campaign"))
            spend = roas.groupby("campaign").agg(network=("network", "first"), spend=("spend", "max"))
            spend = spend.sort_values("spend", ascending=False, kind="stable")
            body += page.table(["campaign", "network", "spend", "latest mature day", "ROAS then"],
                               [(c, r.network, _money(r.spend, cur),
                                 _n(last.loc[c, "day_n"]) if c in last.index else "–",
                                 _ratio(last.loc[c, "roas"]) if c in last.index else "–")
                                for c, r in spend.iterrows()], numeric=(2, 3, 4))
        else:
            body += page.empty(f"no paid cohort installed from {first} to {d}")
    else:
        body = page.empty(f"{KPIS} is not built yet")
    page.section("ROAS", body, f"Cumulative revenue / cost by day since install, cohorts {first} to {d}; "
                               "each day over the install dates on which it is mature for the whole campaign.")

    # fraud
    injection_s = float(rules.short_ctit.threshold)
    body = ""
    if DECISIONS in tables:
        shares = fraud_report.decision_shares(client, d, d)
        if len(shares):
            body += page.table(["reason", "action", "stage", "installs", "share of the day's installs"],
                               [(r.reason, r.action, r.stage, _n(r.installs), _pct(r.share, 2))
                                for r in shares.itertuples()], numeric=(3, 4))
        else:
            body += page.empty(f"no fraud decision for the installs of {d}")
    else:
        body += page.empty(f"{DECISIONS} is not built yet")
    ctit = ctit_frame(client, d, d) if MATCHES in tables else pd.DataFrame(columns=["site_id", "ctit_s"])
    body += page.image(charts.ctit_by_site(ctit, injection_s, FLOODING_CTIT_S), f"CTIT by site, {d}")
    page.section("Fraud", body, "Installs with a decision by reason and action (reject: before attribution; "
                                "flag: after, clawed back; tag: dry run), and the CTIT of the clicks that won "
                                f"before the rules: shaded below {charts.duration_text(injection_s)} (short CTIT, "
                                f"the injection signature) and above {charts.duration_text(FLOODING_CTIT_S)} "
                                "(click flooding).")

    # model health
    page.section("Model health", _model_health(page, client, d, first, tables, mlflow_tracking_uri))

    # multi-touch
    if CHANNEL_CREDITS in tables:
        credit = credit_frame(client, d, d)
        body = page.image(charts.credit_comparison(credit, title=f"Install conversions credited per channel, {d}"),
                          f"multi-touch credit by model, {d}")
        if len(credit):
            wide = credit.pivot_table(index="channel", columns="model", values="credit", aggfunc="sum", fill_value=0.0)
            models = charts.ordered(wide.columns, charts.MODEL_ORDER)
            wide = wide.reindex(columns=models)
            order = wide["last_touch"] if "last_touch" in wide.columns else wide.sum(axis=1)
            wide = wide.loc[sorted(wide.index, key=lambda c: (-float(order[c]), c))]
            body += page.table(["channel", *models], [(c, *(f"{v:,.1f}" for v in row))
                                                      for c, row in zip(wide.index, wide.to_numpy(), strict=True)],
                               numeric=range(1, len(models) + 1))
        else:
            body += page.empty(f"no conversion credited on {d}")
    else:
        body = page.empty(f"{CHANNEL_CREDITS} is not built yet")
    page.section("Multi-touch", body, "Install conversions of the day credited to each channel by every "
                                      "model side by side (fct_channel_credits).")
    return Report(d, page.render(kpis, has_data), kpis, has_data)


def _model_health(page: _Page, client, d: date, first: date, tables: set[str], tracking_uri: str | None) -> str:
    scored = model_scores(client, d, tables)
    body = "<h3>Fraud scores</h3>"
    if scored["fraud"]:
        body += page.table(["scored by", "installs", "mean score", "scored ≥ 0.5"],
                           [("rules (no model trained)" if r["model_version"] == "rules"
                             else f"model version {r['model_version']}", _n(r["installs"]), f"{r['mean_score']:.3f}",
                             _pct(r["flagged_share"])) for r in scored["fraud"]], numeric=(1, 2, 3))
        explained = score_explanations_frame(client, d, d)
        body += page.image(charts.feature_importance(explained["feature"], explained["installs"],
                                                     title="What explains the day's fraud scores",
                                                     xlabel="installs with the feature among their top contributions"),
                           f"fraud score explanations, {d}")
    else:
        body += page.empty(f"no fraud score for the installs of {d}: no model trained and no rules scoring yet")
    body += "<h3>LTV predictions</h3>"
    if scored["ltv"]:
        body += page.table(["model version", "horizon (days)", "installs", "mean predicted revenue"],
                           [(r["model_version"], _n(r["horizon_days"]), _n(r["installs"]),
                             f"{r['mean_predicted']:,.4f}") for r in scored["ltv"]], numeric=(1, 2, 3))
    else:
        body += page.empty(f"no LTV prediction for the installs of {d}: no model trained")
    if KPIS in tables:
        back = ltv_backtest_frame(client, first, d)
        horizon = f"D{int(back['horizon_days'].iloc[0])}" if len(back) else "horizon"
        body += page.image(charts.ltv_backtest(back, title=f"LTV backtest at {horizon}, cohorts {first} to {d}"),
                           f"LTV backtest {first} to {d}")
    if tracking_uri:
        body += "<h3>Model registry (MLflow)</h3>"
        try:
            registry = mlflow_models(tracking_uri)
        except Exception as e:  # an unreachable tracking server must not cost the report
            body += page.empty(f"MLflow registry unavailable: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
        else:
            body += page.table(["model", "newest version", "champion", "metrics (champion, else newest)"],
                               [(r["model"], r["newest"] or "no model trained", r["champion"] or "–",
                                 ", ".join(f"{m} {r['metrics'][m]:.4g}" for m in MODEL_METRICS[r["kind"]]
                                           if m in r["metrics"]) or "–") for r in registry])
    return body


def _cell(frame: pd.DataFrame, install_date, day_n: int):
    v = frame.loc[(frame["install_date"] == install_date) & (frame["day_n"] == day_n), "retention"]
    return None if v.empty or pd.isna(v.iloc[0]) else float(v.iloc[0])


# -- formatting ---------------------------------------------------------------------------------
def _n(v) -> str:
    return "–" if v is None or (isinstance(v, float) and pd.isna(v)) else f"{int(v):,}"


def _pct(v, digits: int = 1) -> str:
    return "–" if v is None or pd.isna(v) else f"{float(v):.{digits}%}"


def _ratio(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{float(v):.3f}"


def _money(v, currency: str = "") -> str:
    return "–" if v is None or pd.isna(v) else f"{float(v):,.2f} {currency}".rstrip()


_CSS = """
:root { --ink: #1a202c; --muted: #4a5568; --line: #e2e8f0; --accent: #2b6cb0; --bg: #f7fafc; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       color: var(--ink); background: var(--bg); }
header { background: #1a365d; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: #cbd5e0; }
nav { padding: 8px 32px; background: #fff; border-bottom: 1px solid var(--line); }
nav a { color: var(--accent); margin-right: 16px; text-decoration: none; }
main { max-width: 1000px; margin: 0 auto; padding: 8px 24px 48px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 18px 0; padding: 8px 20px 16px; }
h2 { font-size: 19px; margin: 10px 0 4px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
p.lead { color: var(--muted); margin: 0 0 10px; }
.banner { background: #fffaf0; border: 1px solid #dd6b20; color: #7b341e; padding: 12px 16px; border-radius: 6px;
          margin: 18px 0 0; font-weight: 600; }
.empty { color: var(--muted); font-style: italic; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin: 8px 0 14px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 22px; font-weight: 700; }
.card .note { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; }
th { background: var(--bg); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { display: block; width: 100%; max-width: 900px; height: auto; margin: 8px auto; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
"""


class _Page:
    """Builds the HTML; every value goes through html.escape."""

    def __init__(self, d: date, generated_at: datetime):
        self.d, self.generated_at = d, generated_at
        self.sections: list[str] = []
        self.banners: list[str] = []

    @staticmethod
    def anchor(title: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")

    def banner(self, text: str) -> None:
        self.banners.append(f'<p class="banner">{html.escape(text)}</p>')

    def section(self, title: str, body: str, lead: str = "") -> None:
        lead_html = f'<p class="lead">{html.escape(lead)}</p>' if lead else ""
        self.sections.append(f'<section id="{self.anchor(title)}"><h2>{html.escape(title)}</h2>{lead_html}{body}'
                             "</section>")

    @staticmethod
    def empty(text: str) -> str:
        return f'<p class="empty">{html.escape(text)}</p>'

    @staticmethod
    def image(png: bytes, alt: str) -> str:
        return f'<img src="{charts.data_uri(png)}" alt="{html.escape(alt)}" width="900" height="450">'

    @staticmethod
    def cards(items: Iterable[tuple[str, str, str]]) -> str:
        return '<div class="cards">' + "".join(
            f'<div class="card"><div class="label">{html.escape(label)}</div>'
            f'<div class="value">{html.escape(value)}</div><div class="note">{html.escape(note)}</div></div>'
            for label, value, note in items) + "</div>"

    @staticmethod
    def table(header: Sequence[str], rows: Iterable[Sequence], numeric: Iterable[int] = ()) -> str:
        num = set(numeric)

        def cell(tag: str, i: int, v) -> str:
            cls = ' class="num"' if i in num else ""
            return f"<{tag}{cls}>{html.escape(str(v))}</{tag}>"

        head = "".join(cell("th", i, h) for i, h in enumerate(header))
        body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def render(self, kpis: dict, has_data: bool) -> str:
        d = html.escape(self.d.isoformat())
        nav = "".join(f'<a href="#{self.anchor(t)}">{html.escape(t)}</a>' for t in SECTIONS)
        status = "" if has_data else f" · no data for {self.d.isoformat()}"
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>Growth report {d}</title><style>{_CSS}</style></head><body>"
                f"<header><h1>Daily growth report — {d}</h1><p>UnMoGrowP lakehouse · install date {d} (UTC)"
                f"{html.escape(status)} · generated {html.escape(self.generated_at.strftime('%Y-%m-%d %H:%M UTC'))}"
                f"</p></header><nav>{nav}</nav><main>{''.join(self.banners)}{''.join(self.sections)}"
                f"<footer>{_n(kpis.get('new_installs'))} new installs · figures from the ClickHouse marts"
                "</footer></main></body></html>\n")
