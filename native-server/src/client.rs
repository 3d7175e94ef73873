//! A native client: streams an asset over gRPC, verifies every fragment against its id and
//! the manifest, and decodes it with the HoloTensor decoder as it arrives.
//!
//! ```no_run
//! # async fn demo() -> Result<(), haagenti_server::client::ClientError> {
//! use haagenti_server::client::{FetchOptions, GrpcClientBuilder};
//! let mut client = GrpcClientBuilder::new("https://127.0.0.1:8443").connect().await?;
//! let fetched = client.fetch("photos/astronaut.png", &FetchOptions::default(), |p| {
//!     println!("{} of {} fragments, {} bytes, quality {:.1}", p.fragments, p.total_fragments, p.bytes, p.quality);
//! }).await?;
//! let picture = fetched.decoder.reconstruct()?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use haagenti_holo::HoloDecoder;
use haagenti_proto::v1 as pb;
use haagenti_proto::v1::fragment_service_client::FragmentServiceClient;
use pb::stream_fragments_response::Event;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::store::fragment_id;
use crate::tls::TlsConfig;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The address or TLS settings are unusable.
    #[error("{0}")]
    Config(String),
    /// Connecting failed.
    #[error("cannot connect to {endpoint}: {message}")]
    Connect {
        /// The server.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// The server answered with an error.
    #[error("server: {} ({:?})", .0.message(), .0.code())]
    Status(#[from] tonic::Status),
    /// The server sent something that does not check out.
    #[error("the server sent a bad fragment: {0}")]
    Verify(String),
    /// Decoding failed.
    #[error(transparent)]
    Decode(#[from] haagenti_holo::HoloError),
}

/// Connects to a fragment server: `GrpcClientBuilder::new(url).with_tls(..).connect()`.
#[derive(Debug, Clone)]
pub struct GrpcClientBuilder {
    endpoint: String,
    tls: Option<TlsConfig>,
    timeout: Duration,
}

impl GrpcClientBuilder {
    /// A client for `endpoint` (`https://host:port`; `http://` only for a plain-HTTP server).
    pub fn new(endpoint: impl Into<String>) -> Self {
        GrpcClientBuilder { endpoint: endpoint.into(), tls: None, timeout: Duration::from_secs(10) }
    }

    /// Trusts the CA in `tls.ca_pem` (else the public web roots) and presents `tls`'s
    /// certificate when the server asks for one (mutual TLS; empty `cert_pem`: none).
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Time allowed to connect: 10 s by default.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects and returns the fragment client.
    pub async fn connect(self) -> Result<FragmentClient, ClientError> {
        let channel = self.channel().await?;
        Ok(FragmentClient { inner: FragmentServiceClient::new(channel).max_decoding_message_size(64 << 20) })
    }

    /// Connects and returns the channel, for any service on the server (compression, health,
    /// reflection).
    pub async fn channel(self) -> Result<Channel, ClientError> {
        let uri: http::Uri =
            self.endpoint.parse().map_err(|e| ClientError::Config(format!("{}: {e}", self.endpoint)))?;
        let mut endpoint = Channel::builder(uri.clone()).connect_timeout(self.timeout);
        if uri.scheme_str() == Some("https") {
            let mut tls = ClientTlsConfig::new().with_enabled_roots();
            if let Some(host) = uri.host() {
                tls = tls.domain_name(host.trim_matches(['[', ']']));
            }
            if let Some(c) = &self.tls {
                if let Some(ca) = &c.ca_pem {
                    tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
                    if let Some(host) = uri.host() {
                        tls = tls.domain_name(host.trim_matches(['[', ']']));
                    }
                }
                if !c.cert_pem.is_empty() {
                    tls = tls.identity(Identity::from_pem(&c.cert_pem, &c.key_pem));
                }
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| ClientError::Config(e.to_string()))?;
        }
        endpoint
            .connect()
            .await
            .map_err(|e| ClientError::Connect { endpoint: self.endpoint.clone(), message: error_chain(&e) })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// What to ask for.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Stop after this many bytes of fragments.
    pub max_bytes: Option<u64>,
    /// Stop after about this long at the reported bandwidth.
    pub max_time_ms: Option<u32>,
    /// Stop once this quality is reached.
    pub target_quality: Option<f64>,
    /// The network as measured (bandwidth 0: unknown).
    pub network: pb::NetworkConditions,
    /// Session name for prefetch hints (empty: none).
    pub session: String,
}

/// How far a fetch has got.
#[derive(Debug, Clone, Copy)]
pub struct FetchProgress {
    /// Fragments received and verified.
    pub fragments: usize,
    /// Fragments the asset has.
    pub total_fragments: usize,
    /// Bytes received.
    pub bytes: u64,
    /// The measured quality of what is held (NaN unless it is a prefix).
    pub quality: f64,
}

/// A finished fetch.
#[derive(Debug)]
pub struct Fetched {
    /// The manifest.
    pub manifest: pb::AssetManifest,
    /// Every verified fragment, pushed; reconstruct from it.
    pub decoder: HoloDecoder,
    /// Why the server stopped.
    pub end: Option<pb::StreamEnd>,
    /// Assets the server suggested fetching next.
    pub prefetch: Vec<String>,
}

/// A connected client.
#[derive(Debug, Clone)]
pub struct FragmentClient {
    inner: FragmentServiceClient<Channel>,
}

impl FragmentClient {
    /// The raw generated client, for calls this wrapper does not cover.
    pub fn raw(&mut self) -> &mut FragmentServiceClient<Channel> {
        &mut self.inner
    }

    /// Every asset, following pages.
    pub async fn list_assets(&mut self, prefix: &str) -> Result<Vec<pb::AssetSummary>, ClientError> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .inner
                .list_assets(pb::ListAssetsRequest { prefix: prefix.to_string(), page_size: 1000, page_token: token })
                .await?
                .into_inner();
            all.extend(page.assets);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            token = page.next_page_token;
        }
    }

    /// An asset's manifest.
    pub async fn manifest(&mut self, asset: &str) -> Result<pb::AssetManifest, ClientError> {
        Ok(self.inner.get_manifest(pb::GetManifestRequest { asset: asset.to_string() }).await?.into_inner())
    }

    /// Streams `asset`, verifying each fragment (its bytes hash to its id, the id is the
    /// manifest's at that index, the decoder accepts it) and reporting progress after each.
    pub async fn fetch(
        &mut self,
        asset: &str,
        options: &FetchOptions,
        mut progress: impl FnMut(&FetchProgress),
    ) -> Result<Fetched, ClientError> {
        let manifest = self.manifest(asset).await?;
        let request = pb::StreamFragmentsRequest {
            assets: vec![asset.to_string()],
            have: Vec::new(),
            network: Some(options.network),
            max_bytes: options.max_bytes.unwrap_or(0),
            max_time_ms: options.max_time_ms.unwrap_or(0),
            target_quality: options.target_quality.unwrap_or(0.0),
            session: options.session.clone(),
        };
        let mut stream = self.inner.stream_fragments(request).await?.into_inner();
        let mut decoder = HoloDecoder::new();
        let mut held = vec![false; manifest.fragments.len()];
        let mut state =
            FetchProgress { fragments: 0, total_fragments: manifest.fragments.len(), bytes: 0, quality: f64::NAN };
        let (mut end, mut prefetch) = (None, Vec::new());
        while let Some(msg) = stream.message().await? {
            match msg.event {
                Some(Event::Fragment(f)) => {
                    let index = f.index as usize;
                    let expected = manifest.fragments.get(index).map(|r| r.id.as_str());
                    if expected != Some(f.id.as_str()) {
                        return Err(ClientError::Verify(format!("fragment {index} is not the manifest's")));
                    }
                    if fragment_id(&f.data) != f.id {
                        return Err(ClientError::Verify(format!("fragment {index}'s bytes do not hash to its id")));
                    }
                    if held[index] {
                        return Err(ClientError::Verify(format!("fragment {index} was sent twice")));
                    }
                    decoder.push(&f.data)?;
                    held[index] = true;
                    state.fragments += 1;
                    state.bytes += f.data.len() as u64;
                    let prefix = held.iter().take_while(|h| **h).count();
                    state.quality = if prefix > 0 {
                        manifest.curve.get(prefix - 1).map_or(f64::NAN, |p| p.quality)
                    } else {
                        f64::NAN
                    };
                    progress(&state);
                }
                Some(Event::Prefetch(p)) => prefetch.extend(p.assets),
                Some(Event::End(e)) => end = Some(e),
                None => {}
            }
        }
        Ok(Fetched { manifest, decoder, end, prefetch })
    }
}
