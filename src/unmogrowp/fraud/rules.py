"""SPEC §3 fraud rules over the feature tables: one decision row per install and reason.

Each rule has a threshold and a mode: ``reject`` (pre-attribution: the touch or install is removed
before ranking and the next touch or organic wins), ``flag`` (post-attribution: the install stays
attributed, a decision with ``detected_at`` restates cohorts and feeds the clawback ledger), ``tag``
(dry run: recorded, no effect) or ``off``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

FLOODING_CTIT_S = 86_400  # SPEC §3 click flooding: the rule judges installs whose winning click is older
REASONS = ("click_injection", "short_ctit", "click_flood", "anonymous_traffic", "geo_outlier", "device_farm",
           "device_id_reset", "sdk_spoofing", "bot_behaviour", "distribution_outlier")
MODES = ("reject", "flag", "tag", "off")
DECISIONS_TABLE = "fraud/decisions"


@dataclass(frozen=True)
class Rule:
    mode: str
    threshold: float

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"rule mode must be one of {MODES}, got {self.mode!r}")


@dataclass(frozen=True)
class RuleSet:
    """Defaults follow SPEC §3; every threshold and mode can be overridden (Dagster run config)."""

    # touch fired after the store download began (deterministic): threshold unused
    click_injection: Rule = Rule("reject", 0)
    # CTIT below N seconds: dry run unless store timestamps confirm (SPEC §3.2)
    short_ctit: Rule = Rule("tag", 10)
    # source's share of installs with CTIT > 24 h
    click_flood: Rule = Rule("flag", 0.5)
    # source's clicks per install relative to the app's
    click_flood_cpi_ratio: float = 10.0
    # source's KS distance of CTIT to the app's baseline
    distribution_outlier: Rule = Rule("tag", 0.35)
    # minimum installs in the source window before source rules fire (SPEC: 50 conversions)
    min_source_installs: int = 50
    anonymous_traffic: Rule = Rule("reject", 0)
    # click → install country distance in km
    geo_outlier: Rule = Rule("tag", 3000)
    # distinct devices installing from the IP in the 24 h before (this one makes N + 1)
    device_farm: Rule = Rule("flag", 3)
    # installs from the same IP and device model in the hour before
    device_id_reset: Rule = Rule("tag", 2)
    # no session in the 24 h after the install (only once that day is observed)
    bot_behaviour: Rule = Rule("flag", 0)
    # installs with no click and no session, from a data-centre IP, are spoofed SDK calls
    sdk_spoofing: Rule = Rule("tag", 0)

    def with_overrides(self, overrides: dict) -> RuleSet:
        """``{"click_flood": {"mode": "tag", "threshold": 0.4}, "min_source_installs": 20}``."""
        changes = {}
        for name, value in overrides.items():
            current = getattr(self, name, None)
            if current is None:
                raise ValueError(f"unknown fraud rule or setting {name!r}")
            changes[name] = replace(current, **value) if isinstance(current, Rule) else type(current)(value)
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


def decisions(installs_feat, source_feat, rules: RuleSet, detected_at):
    """Decision rows: install_id, app_id, touch_id, media_source, campaign_id, site_id, reason,
    stage, action, value, threshold, detected_at (a timestamp or a Spark column)."""
    from pyspark.sql import functions as F

    src = source_feat.select(
        F.col("feature_date").alias("install_date"), "app_id", "media_source", "site_id",
        F.col("installs").alias("src_installs"),
        "share_ctit_gt_24h", "cpi_vs_app", "ks_ctit_vs_app")
    f = installs_feat.join(src, ["install_date", "app_id", "media_source", "site_id"], "left")
    enough = F.coalesce(F.col("src_installs"), F.lit(0)) >= rules.min_source_installs
    flood_value = F.col("share_ctit_gt_24h")
    checks = {
        # (condition, value shown as evidence, touch-level?)
        "click_injection": (F.col("click_after_install_begin") == 1, F.col("ctit_s"), True),
        "short_ctit": (F.col("ctit_s") < rules.short_ctit.threshold, F.col("ctit_s"), True),
        "click_flood": (enough & (F.col("ctit_s") > FLOODING_CTIT_S)
                        & ((flood_value > rules.click_flood.threshold)
                           | (F.col("cpi_vs_app") > rules.click_flood_cpi_ratio)), flood_value, True),
        "distribution_outlier": (enough & (F.col("ks_ctit_vs_app") > rules.distribution_outlier.threshold),
                                 F.col("ks_ctit_vs_app"), True),
        "anonymous_traffic": (F.col("is_anonymous_ip") == 1, F.lit(1.0), False),
        "geo_outlier": (F.col("geo_distance_km") > rules.geo_outlier.threshold, F.col("geo_distance_km"), True),
        "device_farm": (F.col("ip_devices_24h") >= rules.device_farm.threshold, F.col("ip_devices_24h"), False),
        "device_id_reset": ((F.col("model_installs_1h") >= rules.device_id_reset.threshold)
                            & (F.col("ip_installs_1h") >= rules.device_id_reset.threshold),
                            F.col("model_installs_1h"), False),
        "bot_behaviour": (F.col("activity_observed") & (F.col("sessions_24h") <= rules.bot_behaviour.threshold),
                          F.col("sessions_24h"), False),
        "sdk_spoofing": ((F.col("is_anonymous_ip") == 1) & (F.col("sessions_24h") == 0)
                         & F.col("activity_observed"), F.lit(1.0), False),
    }
    parts = []
    for reason, (cond, value, touch_level) in checks.items():
        rule = getattr(rules, reason)
        if rule.mode == "off":
            continue
        # rules on the click judge the install's winning click: an install won by an impression or
        # by nothing has no click to judge
        applies = F.coalesce(cond, F.lit(False))
        if touch_level:
            applies = applies & F.col("winning_touch_id").isNotNull() & (F.col("touch_type") == "click")
        stage = "pre_attribution" if rule.mode == "reject" else "post_attribution"
        parts.append(f.where(applies).select(
            "install_id", "app_id", "install_date",
            F.when(F.lit(touch_level), F.col("winning_touch_id")).alias("touch_id"),
            "media_source", "campaign_id", "site_id",
            F.lit(reason).alias("reason"), F.lit(stage).alias("stage"), F.lit(rule.mode).alias("action"),
            value.cast("double").alias("value"), F.lit(float(rule.threshold)).alias("threshold"),
            F.lit(detected_at).cast("timestamp").alias("detected_at")))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out
