"""Names and defaults of the monitoring code, defined once and free of heavy imports: the Pulumi program
(the drift alert rule) and the CLI's option table import this module without loading numpy or scipy."""

# The share of drifted features in the last drift check (0-1), sent to Application Insights as customMetrics.
DRIFT_METRIC = "mlops_drift_share"

# Drift check defaults: PSI bins, reference values kept per feature (KS, Wasserstein), rows per current chunk.
DEFAULT_BINS = 10
DEFAULT_SAMPLE_SIZE = 50_000
DEFAULT_CHUNK_ROWS = 262_144

# Alerts the retrain function refused (not a usable common-schema payload), counted per stack and status.
REJECTED_ALERTS_METRIC = "mlops_retrain_rejected_alerts"
