//! Tests: bad input in fail-fast mode and under `max_bad_rows`.
