//! Tests: CSV, gzip CSV and Parquet give the same tables; normalisation, de-duplication, sorting,
//! dispositions, ignored columns and person attributes.
