//! AWS Lambda adapter for the gateway (filled in by the targets work).
//!
//! The adapter converts platform types to `http` types and implements the
//! core's environment traits; it holds no gateway logic.

pub use gateway_core::Gateway;
