//! Probability calibration (being written).
