//! Service names and instance ids: short, URL-safe, store-key-safe words.

use super::DirectoryError;

/// Longest service name.
const MAX_SERVICE: usize = 64;
/// Longest instance id.
const MAX_ID: usize = 128;

fn check(value: &str, what: &str, max: usize, extra: &[u8]) -> Result<(), String> {
    let ok_byte =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') || extra.contains(&b);
    if value.is_empty() || value.len() > max {
        return Err(format!("a {what} has 1 to {max} characters"));
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() || !value.bytes().all(ok_byte) {
        let also = if extra.is_empty() { "" } else { ", `:`" };
        return Err(format!(
            "a {what} starts with a letter or digit and has only letters, digits, `.`, `_`, `-`{also}"
        ));
    }
    Ok(())
}

/// Checks a service name: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a
/// letter or digit.
pub fn check_service_name(name: &str) -> Result<(), String> {
    check(name, "service name", MAX_SERVICE, &[])
}

/// Checks an instance id: 1 to 128 of `A-Z a-z 0-9 . _ - :`, starting with
/// a letter or digit (so `10.0.0.7:8080` is a valid id).
pub fn check_instance_id(id: &str) -> Result<(), String> {
    check(id, "instance id", MAX_ID, b":")
}

/// Checks a service name and, when given, an instance id; the error names
/// the field (`service: ...`, `id: ...`).
pub fn check_names(service: &str, id: Option<&str>) -> Result<(), DirectoryError> {
    check_service_name(service).map_err(|e| DirectoryError::Invalid(format!("service: {e}")))?;
    if let Some(id) = id {
        check_instance_id(id).map_err(|e| DirectoryError::Invalid(format!("id: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        for ok in ["users", "users-v2", "a.b_c", "9lives"] {
            assert!(check_service_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a/b", "a b", "a%2Fb", "ü", &"x".repeat(65)] {
            assert!(check_service_name(bad).is_err(), "{bad}");
        }
        assert!(check_instance_id("10.0.0.7:8080").is_ok());
        assert!(check_service_name("a:b").is_err());
        assert!(check_instance_id(&"x".repeat(129)).is_err());
        assert!(check_instance_id(":8080").is_err());
    }
}
