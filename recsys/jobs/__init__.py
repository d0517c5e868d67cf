"""The retraining pipeline: ingest -> ml -> index -> gate -> promote."""
