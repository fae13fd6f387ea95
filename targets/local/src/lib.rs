//! Local target.
