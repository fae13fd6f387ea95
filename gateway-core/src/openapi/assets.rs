//! The docs page's static files, compiled into the binary (no CDN): Swagger
//! UI (npm `swagger-ui-dist`, see `gateway-core/vendor/swagger-ui`) and the
//! script that starts it. Without the `docs-ui` feature there are none and
//! the page only links to the document.

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asset {
    /// File name, as served below `{docs.path}/assets/{hash}/`.
    pub(crate) name: &'static str,
    /// `Content-Type`.
    pub(crate) content_type: &'static str,
    /// Contents.
    pub(crate) bytes: &'static [u8],
}

/// Swagger UI's script.
#[cfg(feature = "docs-ui")]
pub(crate) const BUNDLE: Asset = Asset {
    name: "swagger-ui-bundle.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../../vendor/swagger-ui/swagger-ui-bundle.js"),
};

/// Swagger UI's styles.
#[cfg(feature = "docs-ui")]
pub(crate) const STYLES: Asset = Asset {
    name: "swagger-ui.css",
    content_type: "text/css; charset=utf-8",
    bytes: include_bytes!("../../vendor/swagger-ui/swagger-ui.css"),
};

/// Starts Swagger UI on the page.
#[cfg(feature = "docs-ui")]
pub(crate) const INIT: Asset = Asset {
    name: "init.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("ui/init.js"),
};

/// Every embedded file.
#[cfg(feature = "docs-ui")]
pub(crate) const ALL: &[Asset] = &[BUNDLE, STYLES, INIT];

/// Every embedded file: none without the `docs-ui` feature.
#[cfg(not(feature = "docs-ui"))]
pub(crate) const ALL: &[Asset] = &[];
