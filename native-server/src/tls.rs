use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// Where the server's certificate and key come from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// A self-signed certificate for `localhost` and `127.0.0.1`, made at start-up.
    SelfSigned,
    /// PEM files: the certificate chain and its private key.
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// PEM bytes already in memory.
    Pem(TlsConfig),
}

/// PEM certificates and keys for either side of a connection.
///
/// On a server: its certificate chain and key, and with [`with_client_ca`](Self::with_client_ca)
/// the CA that client certificates must chain to (mutual TLS). On a client: its certificate and
/// key, if the server asks for one, and with [`with_ca_cert`](Self::with_ca_cert) the CA the
/// server's certificate must chain to.
#[derive(Clone, Default)]
pub struct TlsConfig {
    /// Certificate chain, PEM, leaf first.
    pub cert_pem: Vec<u8>,
    /// Private key, PEM.
    pub key_pem: Vec<u8>,
    /// Server side: CA certificates that sign acceptable client certificates.
    pub client_ca_pem: Option<Vec<u8>>,
    /// Client side: CA certificates the server's certificate must chain to.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert_pem", &format_args!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &"(hidden)")
            .field("client_ca_pem", &self.client_ca_pem.as_ref().map(Vec::len))
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .finish()
    }
}

impl TlsConfig {
    /// A certificate chain and its key, both PEM; checked to hold a certificate and a key.
    pub fn from_pem(cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Result<Self, TlsError> {
        let (cert_pem, key_pem) = (cert.into(), key.into());
        certs_of(&cert_pem, Path::new("(certificate PEM)"))?;
        key_of(&key_pem, Path::new("(key PEM)"))?;
        Ok(TlsConfig { cert_pem, key_pem, ..TlsConfig::default() })
    }

    /// Trust only servers whose certificate chains to these CAs (client side, PEM).
    pub fn with_ca_cert(mut self, ca: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(ca.into());
        self
    }

    /// Require client certificates signed by these CAs (server side, PEM).
    pub fn with_client_ca(mut self, ca: impl Into<Vec<u8>>) -> Self {
        self.client_ca_pem = Some(ca.into());
        self
    }
}

/// Errors setting up TLS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{path} holds no {what}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was expected in it.
        what: &'static str,
    },
    /// rustls rejected the configuration.
    #[error("TLS configuration rejected: {0}")]
    Rustls(String),
}

/// A self-signed certificate for `localhost` and `127.0.0.1`: (certificate DER, PKCS#8 key DER).
pub fn self_signed() -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Rustls(e.to_string()))?;
    let key = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    Ok((certified.cert.der().clone(), key))
}

/// A self-signed certificate for `localhost` and `127.0.0.1` as PEM (certificate and key).
pub fn self_signed_pem() -> Result<TlsConfig, TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Rustls(e.to_string()))?;
    Ok(TlsConfig {
        cert_pem: certified.cert.pem().into_bytes(),
        key_pem: certified.signing_key.serialize_pem().into_bytes(),
        ..TlsConfig::default()
    })
}

pub(crate) fn server_config(source: &TlsSource, client_ca: Option<&Path>) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (chain, key) = match source {
        TlsSource::SelfSigned => {
            let (cert, key) = self_signed()?;
            (vec![cert], key)
        }
        TlsSource::Files { cert, key } => (read_certs(cert)?, read_key(key)?),
        TlsSource::Pem(c) => {
            (certs_of(&c.cert_pem, Path::new("(certificate PEM)"))?, key_of(&c.key_pem, Path::new("(key PEM)"))?)
        }
    };
    let pem_ca = match source {
        TlsSource::Pem(TlsConfig { client_ca_pem: Some(ca), .. }) => Some(certs_of(ca, Path::new("(client CA PEM)"))?),
        _ => None,
    };
    let file_ca = client_ca.map(read_certs).transpose()?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match pem_ca.or(file_ca) {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in ca {
                roots.add(cert).map_err(|e| TlsError::Rustls(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| TlsError::Rustls(e.to_string()))?;
    // h2 for gRPC, http/1.1 for gRPC-web from browsers that pick it and for plain page loads.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certs_of(&read_pem(path)?, path)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    key_of(&read_pem(path)?, path)
}

fn certs_of(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read { path: path.to_path_buf(), source })?;
    if certs.is_empty() {
        return Err(TlsError::Empty { path: path.to_path_buf(), what: "certificate" });
    }
    Ok(certs)
}

fn key_of(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|source| TlsError::Read { path: path.to_path_buf(), source })?
        .ok_or(TlsError::Empty { path: path.to_path_buf(), what: "private key" })
}
