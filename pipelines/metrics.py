"""Names of the metrics the ML code emits and the alert rules watch, defined once (no heavy imports here:
the Pulumi program imports this module)."""

# The share of drifted features in the last drift check (0-1), sent to Application Insights as customMetrics.
DRIFT_METRIC = "mlops_drift_share"
