//! Table-driven requests: one row per request with the answer it must get.

use anyhow::{Context as _, Result};

use super::assert_problem;

/// What a row's request must be answered with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// This status, any body.
    Status(u16),
    /// A problem+json answer with this status and kind.
    Problem(u16, &'static str),
}

/// One request of a table: method, path and extra headers, and the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    /// The request method (`GET`, `DELETE`, ...).
    pub(crate) method: &'a str,
    /// Path and query, appended to the gateway's URL.
    pub(crate) path: &'a str,
    /// Headers added to the request.
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// The expected answer.
    pub(crate) want: Want,
}

/// A `GET` row without extra headers.
pub(crate) const fn get(path: &str, want: Want) -> Row<'_> {
    Row {
        method: "GET",
        path,
        headers: &[],
        want,
    }
}

/// Sends every row in order through `client` to `base` (the gateway's URL
/// without a trailing slash) and checks each answer; a failure names the row.
pub(crate) async fn check_rows(
    client: &reqwest::Client,
    base: &str,
    rows: &[Row<'_>],
) -> Result<()> {
    for row in rows {
        let method = reqwest::Method::from_bytes(row.method.as_bytes())?;
        let mut req = client.request(method, format!("{base}{}", row.path));
        for (name, value) in row.headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await?;
        let what = || format!("{} {} {:?}", row.method, row.path, row.headers);
        match row.want {
            Want::Status(status) => {
                anyhow::ensure!(
                    resp.status().as_u16() == status,
                    "{}: got {}, want {status}",
                    what(),
                    resp.status()
                );
            }
            Want::Problem(status, kind) => {
                assert_problem(resp, status, kind)
                    .await
                    .with_context(what)?;
            }
        }
    }
    Ok(())
}
