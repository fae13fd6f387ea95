use super::*;
use proptest::prelude::*;

fn norm(p: &str) -> Result<String, RequestError> {
    normalize_path(p, &PathConfig::default()).map(|c| c.into_owned())
}

#[test]
fn table() {
    let ok = [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a//b", "/a/b"),
        ("//admin", "/admin"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/a/b/", "/a/b/"),
        ("/../../etc", "/etc"),
        ("/api/%2e%2e/admin", "/admin"),
        ("/api/%2E./admin", "/admin"),
        ("/%7Euser", "/~user"),
        ("/a%20b", "/a%20b"),
        ("/a%3fb", "/a%3Fb"),
        ("/%252e%252e/x", "/%252e%252e/x"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/a/%2e", "/a/"),
    ];
    for (input, want) in ok {
        assert_eq!(norm(input).as_deref(), Ok(want), "input {input}");
    }
    let bad = [
        "/api/..%2fadmin",
        "/api/%2F",
        "/a%5cb",
        "/a\\b",
        "/a%00",
        "/api/..;/admin",
        "/a;jsessionid=1",
        "/a%zz",
        "/a%4",
        "relative",
    ];
    for input in bad {
        assert!(norm(input).is_err(), "input {input} must be rejected");
    }
}

#[test]
fn encoded_slash_kept_when_configured() {
    let cfg = PathConfig {
        encoded_slash: EncodedSlash::Keep,
        semicolons: Semicolons::Allow,
        ..PathConfig::default()
    };
    assert_eq!(
        normalize_path("/api/..%2fadmin", &cfg).as_deref(),
        Ok("/api/..%2Fadmin")
    );
    assert_eq!(normalize_path("/a;b=c", &cfg).as_deref(), Ok("/a;b=c"));
}

#[test]
fn too_long_is_414() {
    let cfg = PathConfig {
        max_len: 8,
        ..PathConfig::default()
    };
    assert_eq!(
        normalize_path("/123456789", &cfg),
        Err(RequestError::UriTooLong)
    );
}

/// How a typical upstream resolves a path: decode every escape once, then
/// remove dot segments.
fn upstream_view(p: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(p)
        .decode_utf8_lossy()
        .replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn path_strategy() -> impl Strategy<Value = String> {
    let seg = prop::collection::vec(
        prop_oneof![
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("%2e%2e".to_owned()),
            Just("%2E".to_owned()),
            Just("%2f".to_owned()),
            Just("%5c".to_owned()),
            Just("%25".to_owned()),
            Just(";x".to_owned()),
            Just("".to_owned()),
            "[a-z0-9~_.-]{1,4}",
            "%[0-9A-Fa-f]{2}",
        ],
        0..3,
    )
    .prop_map(|parts| parts.concat());
    prop::collection::vec(seg, 0..8).prop_map(|segs| format!("/{}", segs.join("/")))
}

proptest! {
    #[test]
    fn idempotent(p in path_strategy()) {
        if let Ok(n) = norm(&p) {
            prop_assert_eq!(norm(&n), Ok(n.clone()));
        }
    }

    #[test]
    fn no_dot_or_empty_segments(p in path_strategy()) {
        if let Ok(n) = norm(&p) {
            prop_assert!(n.starts_with('/'));
            prop_assert!(!n.contains("//"));
            for seg in n.split('/') {
                prop_assert!(seg != "." && seg != "..");
            }
        }
    }

    #[test]
    fn never_leaves_route_prefix(rest in path_strategy()) {
        let p = format!("/api{rest}");
        if let Ok(n) = norm(&p)
            && n.starts_with("/api/") {
                let seen = upstream_view(&n);
                prop_assert!(seen == "/api" || seen.starts_with("/api/"), "{} -> {} -> {}", p, n, seen);
            }
    }
}
