//! Binary-classification metrics (being written).
