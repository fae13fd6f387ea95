//! What the registry accepts: checked input and bounded sizes.

use std::net::{Ipv4Addr, Ipv6Addr};

use gateway_core::discovery::{DirectoryError, Instance, check_names};

/// Size bounds of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most live instances of one service. Default 64.
    pub max_instances_per_service: usize,
    /// Most service names in the index. Default 256.
    pub max_services: usize,
    /// Most metadata entries of an instance. Default 16.
    pub max_metadata_entries: usize,
    /// Most bytes of metadata keys and values of an instance. Default 2048.
    pub max_metadata_bytes: usize,
    /// Largest weight. Default 1000.
    pub max_weight: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_instances_per_service: 64,
            max_services: 256,
            max_metadata_entries: 16,
            max_metadata_bytes: 2048,
            max_weight: 1000,
        }
    }
}

/// Longest zone or version label.
const MAX_LABEL: usize = 64;
/// Longest metadata key.
const MAX_META_KEY: usize = 64;
/// Longest metadata value.
const MAX_META_VALUE: usize = 256;

fn invalid(field: &str, why: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Invalid(format!("{field}: {why}"))
}

fn is_host_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The address in canonical form: an IPv4 address, an IPv6 address without
/// brackets, or a lower-case host name.
fn check_address(address: &str) -> Result<String, DirectoryError> {
    let bare = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return Ok(v6.to_string());
    }
    if let Ok(v4) = bare.parse::<Ipv4Addr>() {
        return Ok(v4.to_string());
    }
    let host = bare.strip_suffix('.').unwrap_or(bare);
    if bare == address
        && is_host_name(host)
        && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Ok(host.to_ascii_lowercase());
    }
    Err(invalid("address", "not a host name or IP address"))
}

fn check_label(field: &str, v: &Option<String>) -> Result<(), DirectoryError> {
    match v {
        Some(s)
            if s.is_empty() || s.len() > MAX_LABEL || !s.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Err(invalid(
                field,
                format!("1 to {MAX_LABEL} visible ASCII characters"),
            ))
        }
        _ => Ok(()),
    }
}

/// Checks a registration and returns it with its address in canonical form.
pub(crate) fn check_instance(mut i: Instance, limits: &Limits) -> Result<Instance, DirectoryError> {
    check_names(&i.service, Some(&i.id))?;
    i.address = check_address(&i.address)?;
    if i.port == 0 {
        return Err(invalid("port", "must be 1 to 65535"));
    }
    if i.scheme != "http" && i.scheme != "https" {
        return Err(invalid("scheme", "`http` or `https`"));
    }
    if i.weight == 0 || i.weight > limits.max_weight {
        return Err(invalid(
            "weight",
            format!("must be 1 to {}", limits.max_weight),
        ));
    }
    check_label("zone", &i.zone)?;
    check_label("version", &i.version)?;
    if i.metadata.len() > limits.max_metadata_entries {
        return Err(invalid(
            "metadata",
            format!("at most {} entries", limits.max_metadata_entries),
        ));
    }
    let mut bytes = 0;
    for (k, v) in &i.metadata {
        let key_ok = !k.is_empty()
            && k.len() <= MAX_META_KEY
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
        if !key_ok {
            return Err(invalid(
                "metadata",
                format!("keys have 1 to {MAX_META_KEY} of letters, digits, `.`, `_`, `-`, `/`"),
            ));
        }
        if v.len() > MAX_META_VALUE || v.chars().any(char::is_control) {
            return Err(invalid(
                &format!("metadata.{k}"),
                format!("at most {MAX_META_VALUE} bytes without control characters"),
            ));
        }
        bytes += k.len() + v.len();
    }
    if bytes > limits.max_metadata_bytes {
        return Err(invalid(
            "metadata",
            format!("at most {} bytes in all", limits.max_metadata_bytes),
        ));
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        Instance {
            id: "a1".into(),
            service: "users".into(),
            address: "10.0.0.1".into(),
            port: 8080,
            scheme: "http".into(),
            weight: 1,
            zone: None,
            version: None,
            metadata: Default::default(),
        }
    }

    fn refused(i: Instance) -> String {
        match check_instance(i, &Limits::default()) {
            Err(DirectoryError::Invalid(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn addresses_are_hosts_or_ips_in_canonical_form() {
        let ok = |a: &str| check_address(a).expect(a);
        assert_eq!(ok("10.0.0.1"), "10.0.0.1");
        assert_eq!(ok("[::1]"), "::1");
        assert_eq!(ok("FE80:0:0:0:0:0:0:1"), "fe80::1");
        assert_eq!(ok("Users.Internal."), "users.internal");
        for bad in [
            "",
            "a b",
            "http://x",
            "x/y",
            "1.2.3",
            "999.1.1.1",
            "[x]",
            "-a.b",
            "a..b",
            "x:80",
            "[10.0.0.1",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_are_bounded() {
        assert!(check_instance(instance(), &Limits::default()).is_ok());
        assert!(
            refused(Instance {
                port: 0,
                ..instance()
            })
            .starts_with("port")
        );
        assert!(
            refused(Instance {
                scheme: "ftp".into(),
                ..instance()
            })
            .starts_with("scheme")
        );
        assert!(
            refused(Instance {
                weight: 0,
                ..instance()
            })
            .starts_with("weight")
        );
        assert!(
            refused(Instance {
                weight: 1001,
                ..instance()
            })
            .starts_with("weight")
        );
        assert!(
            refused(Instance {
                id: "a/b".into(),
                ..instance()
            })
            .starts_with("id")
        );
        assert!(
            refused(Instance {
                service: "".into(),
                ..instance()
            })
            .starts_with("service")
        );
        assert!(
            refused(Instance {
                zone: Some("a b".into()),
                ..instance()
            })
            .starts_with("zone")
        );
        assert!(
            refused(Instance {
                version: Some("x".repeat(65)),
                ..instance()
            })
            .starts_with("version")
        );
        let many = (0..17).map(|n| (format!("k{n}"), "v".to_owned())).collect();
        assert!(
            refused(Instance {
                metadata: many,
                ..instance()
            })
            .contains("at most 16 entries")
        );
        let big = (0..9).map(|n| (format!("k{n}"), "v".repeat(250))).collect();
        assert!(
            refused(Instance {
                metadata: big,
                ..instance()
            })
            .contains("bytes in all")
        );
        let bad_key = [("a b".to_owned(), "v".to_owned())].into_iter().collect();
        assert!(
            refused(Instance {
                metadata: bad_key,
                ..instance()
            })
            .starts_with("metadata")
        );
        let control = [("k".to_owned(), "a\nb".to_owned())].into_iter().collect();
        assert!(
            refused(Instance {
                metadata: control,
                ..instance()
            })
            .starts_with("metadata.k")
        );
    }
}
