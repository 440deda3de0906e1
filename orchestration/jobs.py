"""Job names, importable without building the definitions (the command line launches by name)."""

EVENTS_JOB = "ingest_events_job"
COST_JOB = "ingest_cost_job"
DBT_SETUP_JOB = "dbt_setup_job"
ATTRIBUTION_JOB = "attribution_job"
DAILY_MARTS_JOB = "daily_marts_job"
REPORTING_JOB = "reporting_job"
GROWTH_REPORT_JOB = "growth_report_job"
TENANT_ACCESS_JOB = "tenant_access_job"
FRAUD_JOB = "fraud_rules_job"
MODEL_TRAINING_JOB = "model_training_job"
FRAUD_SCORING_JOB = "fraud_scoring_job"
LTV_FEATURES_JOB = "ltv_features_job"
ERASURE_JOB = "erasure_job"
RETENTION_JOB = "retention_job"

# the jobs in order, and the partitions each covers: fraud decisions before attribution (rejections
# feed back); models after it; LTV predictions before the daily marts (fct_cohort_kpis reads them)
PIPELINE_JOBS = {EVENTS_JOB: "hours", COST_JOB: "days", DBT_SETUP_JOB: None, FRAUD_JOB: "days",
                 ATTRIBUTION_JOB: "hours", LTV_FEATURES_JOB: "days", MODEL_TRAINING_JOB: None,
                 FRAUD_SCORING_JOB: "days", DAILY_MARTS_JOB: "days", REPORTING_JOB: None, GROWTH_REPORT_JOB: "days"}
