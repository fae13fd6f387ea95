//! Settings for path normalisation.

use serde::Deserialize;

/// What to do with `%2F` in a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EncodedSlash {
    /// Answer 400 (default).
    #[default]
    Reject,
    /// Keep it encoded: it matches and is forwarded as `%2F`, never as `/`.
    Keep,
}

/// What to do with `;` in a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Semicolons {
    /// Answer 400 (default): some upstreams treat `;` as a path parameter
    /// and resolve `/..;/` as `/../`.
    #[default]
    Reject,
    /// Treat `;` as an ordinary character.
    Allow,
}

/// Validated path normalisation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathConfig {
    /// `%2F` handling.
    pub encoded_slash: EncodedSlash,
    /// `;` handling.
    pub semicolons: Semicolons,
    /// Longest accepted path in bytes (414 beyond).
    pub max_len: usize,
}

impl Default for PathConfig {
    fn default() -> Self {
        Self {
            encoded_slash: EncodedSlash::Reject,
            semicolons: Semicolons::Reject,
            max_len: 4096,
        }
    }
}
