//! Reading attempt, contact and person files (being written).
