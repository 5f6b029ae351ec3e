//! Property test placeholder.
