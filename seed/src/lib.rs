//! Demo county.
