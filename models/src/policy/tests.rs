//! Unit tests placeholder.
