"""Read-outs of the marts: the demo summary and agreement with the generator's ground truth."""

from __future__ import annotations

import pyarrow as pa

TRUTH_TABLE = "default.generator_attribution_truth"


def attribution_agreement(client, truth: pa.Table) -> dict[str, dict[str, float]]:
    """Compare fct_installs with the generator's designed winners, by match class.

    deterministic: installs designed as paid that we matched by referrer/click id or device id;
    probabilistic: designed paid, matched probabilistically; organic: designed organic; and the
    re-attributions. Installs whose designed touch never reached the warehouse (its line was
    malformed or in a truncated file) are counted apart. Each gives the number of installs and the
    share whose winning touch is the designed one (organic: no winning touch).
    """
    client.command(f"DROP TABLE IF EXISTS {TRUTH_TABLE}")
    client.command(f"CREATE TABLE {TRUTH_TABLE} (app_id String, event_id String, truth_kind String, "
                   "truth_touch_id Nullable(String)) ENGINE = MergeTree ORDER BY event_id")
    client.insert_arrow(TRUTH_TABLE, truth.select(["app_id", "event_id", "truth_kind", "truth_touch_id"]))
    rows = client.query(f"""
        SELECT multiIf(t.truth_touch_id IS NOT NULL AND t.truth_touch_id NOT IN (
                           SELECT touch_id FROM staging.stg_sdk__touches), 'designed_touch_quarantined',
                       t.truth_kind = 'paid' AND f.match_method IN ('referrer', 'device_id'), 'deterministic',
                       t.truth_kind = 'paid' AND f.match_method = 'probabilistic', 'probabilistic',
                       t.truth_kind = 'paid', 'paid_but_unmatched',
                       t.truth_kind) AS class,
               count() AS installs,
               countIf(ifNull(f.winning_touch_id, '') = ifNull(t.truth_touch_id, '')) / installs AS agreement
        FROM {TRUTH_TABLE} AS t
        INNER JOIN marts.fct_installs AS f ON f.install_id = t.event_id
        GROUP BY class ORDER BY class""").result_rows
    return {cls: {"installs": n, "agreement": round(a, 5)} for cls, n, a in rows}


def summary(client) -> str:
    """Installs by status and network, top campaigns by ROAS D7, D1/D7 retention."""
    lines = ["Installs by status and network (new installs):"]
    for status, source, n in client.query("""
            SELECT attribution_status, media_source, count() FROM marts.fct_installs
            WHERE install_kind = 'install' GROUP BY ALL ORDER BY 1, 3 DESC""").result_rows:
        lines.append(f"  {status:<18} {source:<12} {n:>8,}")
    kinds = client.query("SELECT install_kind, count() FROM marts.fct_installs GROUP BY 1 ORDER BY 1").result_rows
    lines.append("  install kinds: " + ", ".join(f"{k} {n:,}" for k, n in kinds))
    lines.append("Top campaigns by ROAS D7 (mature cohorts only):")
    for campaign, installs, cost, revenue, roas in client.query("""
            SELECT campaign_id, sum(installs) AS i, sum(cost) AS c, sum(cumrev) AS r, r / c AS roas
            FROM marts.fct_cohort_kpis
            WHERE day_n = 7 AND is_mature AND media_source != 'organic'
            GROUP BY campaign_id HAVING c > 0 ORDER BY roas DESC LIMIT 5""").result_rows:
        lines.append(f"  {campaign:<18} installs {installs:>6,}  cost {cost:>10,.2f}  D7 revenue {revenue:>9,.2f}"
                     f"  ROAS {roas:.3f}")
    lines.append("Retention (mature cohorts, all sources):")
    for mode, day, size, classic, rolling in client.query("""
            SELECT day_mode, day_n, sum(cohort_size) AS n, sum(active_users) / n,
                   sum(retained_rolling * cohort_size) / n
            FROM marts.fct_cohort_retention
            WHERE day_n IN (1, 7) AND is_mature GROUP BY ALL ORDER BY 1 DESC, 2""").result_rows:
        lines.append(f"  {mode:<12} D{day}: classic {classic:.3f}  rolling {rolling:.3f}  ({size:,} users)")
    return "\n".join(lines)
