//! Synthetic attempt logs with ground truth (being written).
