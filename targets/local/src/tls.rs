//! TLS termination from PEM files, offering HTTP/2 and HTTP/1.1 by ALPN.

use std::sync::Arc;

use anyhow::Context as _;
use gateway_core::config::TlsFiles;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Builds an acceptor from the configured certificate and key.
pub fn acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("reading certificate file {}", files.cert))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificate file {}", files.cert))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in {}", files.cert);
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("reading private key file {}", files.key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not form a valid pair")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
