//! Turns Redis client errors into the core's [`StorageError`].
//!
//! Redis error texts can carry the server address, the URL or key names, so
//! messages here are built only from the error's kind and code.

use gateway_core::store::StorageError;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// Maps a failed `op` ("connect", "get", ...) to a redacted [`StorageError`].
pub(crate) fn storage_error(op: &'static str, err: &RedisError) -> StorageError {
    let detail = describe(err);
    if err.code() == Some("OOM") {
        return StorageError::Refused(format!("redis {op} refused: {detail}"));
    }
    StorageError::Unavailable(format!("redis {op} failed: {detail}"))
}

/// A short description of `err` that never includes its free-form text.
fn describe(err: &RedisError) -> String {
    match err.kind() {
        // `source()` hides the `io::Error` behind an `Arc`, so ask the
        // error's own predicates instead of downcasting.
        ErrorKind::Io if err.is_connection_refusal() => "I/O error (connection refused)".to_owned(),
        ErrorKind::Io if err.is_timeout() => "I/O error (timed out)".to_owned(),
        ErrorKind::Io if err.is_connection_dropped() => "I/O error (connection dropped)".to_owned(),
        ErrorKind::Server(ServerErrorKind::NoPerm) => "permission denied (NOPERM)".to_owned(),
        // Server error codes are single upper-case words such as `ERR` or `OOM`.
        ErrorKind::Server(_) | ErrorKind::Extension => match err.code() {
            Some(code) if is_error_code(code) => format!("{} ({code})", err.category()),
            _ => err.category().to_owned(),
        },
        _ => err.category().to_owned(),
    }
}

fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(err: StorageError) -> String {
        match err {
            StorageError::Unavailable(m) | StorageError::Refused(m) => m,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn io_errors_report_only_their_kind() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "10.0.0.7:6379 secret",
        );
        let msg = message(storage_error("connect", &RedisError::from(io)));
        assert_eq!(msg, "redis connect failed: I/O error (connection refused)");
    }

    #[test]
    fn io_errors_name_common_causes() {
        let msg = |kind| {
            message(storage_error(
                "get",
                &RedisError::from(std::io::Error::from(kind)),
            ))
        };
        assert_eq!(
            msg(std::io::ErrorKind::TimedOut),
            "redis get failed: I/O error (timed out)"
        );
        assert_eq!(
            msg(std::io::ErrorKind::BrokenPipe),
            "redis get failed: I/O error (connection dropped)"
        );
        assert_eq!(
            msg(std::io::ErrorKind::Other),
            "redis get failed: I/O error"
        );
    }

    #[test]
    fn client_errors_drop_their_detail() {
        let err = RedisError::from((
            ErrorKind::InvalidClientConfig,
            "Redis URL did not parse",
            "redis://:hunter2@db.internal:6379".to_owned(),
        ));
        let msg = message(storage_error("connect", &err));
        assert!(
            !msg.contains("hunter2") && !msg.contains("db.internal"),
            "{msg}"
        );
        assert_eq!(msg, "redis connect failed: invalid client config");
    }

    #[test]
    fn out_of_memory_is_a_refusal() {
        let err = redis::make_extension_error(
            "OOM".to_owned(),
            Some("used memory > maxmemory".to_owned()),
        );
        match storage_error("put", &err) {
            StorageError::Refused(msg) => {
                assert_eq!(msg, "redis put refused: extension error (OOM)")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn only_well_formed_codes_are_echoed() {
        assert!(is_error_code("OOM"));
        assert!(is_error_code("WRONGTYPE"));
        assert!(!is_error_code("redis://x"));
        assert!(!is_error_code(""));
    }
}
