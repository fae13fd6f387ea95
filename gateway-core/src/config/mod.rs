//! Config: the file format ([`spec`]), loading (YAML or JSON), and the
//! validated internal model ([`GatewayConfig`]).
//!
//! Loading never stops at the first problem it can avoid stopping at: syntax
//! and type errors end parsing, but every semantic problem (unknown upstream,
//! duplicate route, bad policy setting, ...) is collected and reported with
//! the file, the field path and the reason.

mod build;
mod error;
mod load;
mod model;
pub mod redact;
mod schema;
pub mod spec;
pub(crate) mod units;
pub mod vars;

pub(crate) use error::Problems;
pub use error::{ConfigError, ConfigProblem};
pub use load::{
    load_file_text, load_file_text_with_files, load_file_text_with_vars, parse_spec,
    parse_spec_with_vars,
};
pub(crate) use model::RouteTarget;
pub use model::{GatewayConfig, Limits, RouteSummary, ServerConfig, StoreConfig, TlsFiles};
pub use schema::json_schema;
pub use units::{ByteSize, DurationSpec};

#[cfg(test)]
mod tests;
