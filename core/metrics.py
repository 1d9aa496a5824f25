"""Names and defaults of the monitoring code, defined once and free of heavy imports: the Pulumi program
(the drift alert rule) and the CLI's option table import this module without loading numpy or scipy."""

# The share of drifted features in the last drift check (0-1), sent to Application Insights as customMetrics.
DRIFT_METRIC = "mlops_drift_share"

# Per-feature PSI of the last monitor run (attribute `feature`), and the live model's AUC on labelled predictions.
FEATURE_PSI_METRIC = "mlops_feature_psi"
QUALITY_METRIC = "mlops_model_auc"

# The drift reference profile (`mlops drift --save-profile` format) of the training data, a file of the registered
# model version itself, so the monitor compares production data with the data of the model that is live.
PROFILE_FILE = "drift_profile.npz"

# Drift check defaults: PSI bins, reference values kept per feature (KS, Wasserstein), rows per current chunk.
DEFAULT_BINS = 10
DEFAULT_SAMPLE_SIZE = 50_000
DEFAULT_CHUNK_ROWS = 262_144

# Alerts the retrain function refused (not a usable common-schema payload), counted per stack and status.
REJECTED_ALERTS_METRIC = "mlops_retrain_rejected_alerts"
DISPATCH_FAILURES_METRIC = "mlops_retrain_dispatch_failures"  # submitted jobs whose promotion workflow did not start
