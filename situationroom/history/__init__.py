"""The history store: the history role writing every sample to Parquet, compaction, and DuckDB queries over it."""
