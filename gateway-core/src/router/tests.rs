use super::*;

fn key(route: usize, hosts: &[&str], methods: &[Method], path: &str) -> RouteKey {
    RouteKey {
        route,
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        methods: methods.to_vec(),
        path: path.to_owned(),
        headers: Vec::new(),
        priority: 0,
    }
}

fn router() -> Router {
    Router::build(&[
        key(0, &[], &[Method::GET], "/users/{id}"),
        key(1, &[], &[Method::POST], "/users"),
        key(2, &[], &[Method::GET], "/users/me"),
        key(3, &[], &[], "/files/{*rest}"),
        key(4, &["api.example.com"], &[Method::GET], "/users/{id}"),
        key(5, &["*.example.com"], &[Method::DELETE], "/users/{id}"),
        key(6, &[], &[Method::GET, Method::PUT], "/items/{id}"),
    ])
    .expect("valid table")
}

#[test]
fn table() {
    let r = router();
    let h = HeaderMap::new();
    type Case<'a> = (Option<&'a str>, Method, &'a str, Result<usize, u16>);
    let cases: &[Case<'_>] = &[
        (None, Method::GET, "/users/42", Ok(0)),
        (None, Method::HEAD, "/users/42", Ok(0)),
        (None, Method::GET, "/users/me", Ok(2)),
        (None, Method::POST, "/users", Ok(1)),
        (None, Method::GET, "/users", Err(405)),
        (None, Method::GET, "/files/a/b/c", Ok(3)),
        (None, Method::GET, "/files", Ok(3)),
        (None, Method::GET, "/files/", Ok(3)),
        (None, Method::GET, "/nothing", Err(404)),
        (Some("api.example.com"), Method::GET, "/users/1", Ok(4)),
        (Some("x.example.com"), Method::DELETE, "/users/1", Ok(5)),
        (Some("x.example.com"), Method::GET, "/users/1", Ok(0)),
        (Some("example.com"), Method::DELETE, "/users/1", Err(405)),
        (None, Method::DELETE, "/items/1", Err(405)),
    ];
    for (host, method, path, want) in cases {
        let got = r.find(*host, method, path, &h);
        match (want, got) {
            (Ok(i), Ok(m)) => assert_eq!(m.route, *i, "{host:?} {method} {path}"),
            (Err(404), Err(RouteError::NotFound)) => {}
            (Err(405), Err(RouteError::MethodNotAllowed { .. })) => {}
            (w, g) => panic!("{host:?} {method} {path}: want {w:?}, got {g:?}"),
        }
    }
}

#[test]
fn params_are_captured() {
    let m = router()
        .find(None, &Method::GET, "/files/a/b", &HeaderMap::new())
        .expect("match");
    assert_eq!(m.params, vec![("rest".to_owned(), "a/b".to_owned())]);
}

#[test]
fn allow_lists_methods_with_head() {
    match router().find(None, &Method::DELETE, "/items/1", &HeaderMap::new()) {
        Err(RouteError::MethodNotAllowed { allow }) => {
            assert_eq!(allow, vec![Method::GET, Method::HEAD, Method::PUT]);
        }
        other => panic!("want 405, got {other:?}"),
    }
}

#[test]
fn duplicates_are_refused() {
    let err = Router::build(&[
        key(0, &[], &[Method::GET], "/a"),
        key(1, &[], &[Method::GET, Method::POST], "/a"),
    ])
    .expect_err("duplicate");
    assert_eq!(err[0].route, 1);
    assert!(err[0].message.contains("routes[0]"), "{}", err[0].message);
}

#[test]
fn conflicting_patterns_are_refused() {
    let err = Router::build(&[key(0, &[], &[], "/a/{x}"), key(1, &[], &[], "/a/{y}")])
        .expect_err("conflict");
    assert_eq!(err[0].route, 1);
}

#[test]
fn headers_and_priority_choose() {
    let mut canary = key(1, &[], &[Method::GET], "/svc");
    canary.headers = vec![(
        HeaderName::from_static("x-canary"),
        HeaderValue::from_static("1"),
    )];
    let mut low = key(2, &[], &[Method::GET], "/svc");
    low.priority = -1;
    let r = Router::build(&[key(0, &[], &[Method::GET], "/svc"), canary, low]).expect("valid");
    let mut h = HeaderMap::new();
    assert_eq!(r.find(None, &Method::GET, "/svc", &h).expect("m").route, 0);
    h.insert("x-canary", HeaderValue::from_static("1"));
    assert_eq!(r.find(None, &Method::GET, "/svc", &h).expect("m").route, 1);
}
