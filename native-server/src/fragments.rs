//! `haagenti.v1.FragmentService`: lists assets, sends manifests, and streams fragments in the
//! order the adaptive policy picks for each client's network and budget.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use haagenti_proto::v1 as pb;
use haagenti_proto::v1::fragment_service_server::FragmentService;
use pb::stream_end::Reason;
use pb::stream_fragments_response::Event;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::assets::{AssetEntry, Library, ReadError};
use crate::limits::{ClientLimits, PeerAddr};
use crate::metrics::Metrics;
use crate::policy::{self, Budget, Prefetcher};
use crate::store::{StoreError, check_id};

/// Most assets one `StreamFragments` call may name.
pub const MAX_STREAM_ASSETS: usize = 256;
/// Most ids a client may list as already held.
pub const MAX_HAVE: usize = 65_536;
/// Most assets a `ListAssets` page holds.
pub const MAX_PAGE: usize = 1000;

/// The fragment service over a [`Library`].
#[derive(Debug, Clone)]
pub(crate) struct Fragments {
    library: Arc<Library>,
    metrics: Arc<Metrics>,
    prefetcher: Arc<Prefetcher>,
    limits: Arc<ClientLimits>,
    shutdown: watch::Receiver<bool>,
    stall: Duration,
}

impl Fragments {
    /// The service; `shutdown` turning true ends running streams cleanly, and a client that
    /// takes nothing for `stall` has its stream ended.
    pub(crate) fn new(
        library: Arc<Library>,
        metrics: Arc<Metrics>,
        prefetcher: Arc<Prefetcher>,
        limits: Arc<ClientLimits>,
        shutdown: watch::Receiver<bool>,
        stall: Duration,
    ) -> Self {
        Fragments { library, metrics, prefetcher, limits, shutdown, stall }
    }

    async fn entry(&self, name: &str) -> Result<Arc<AssetEntry>, Status> {
        match self.library.asset(name).await {
            Ok(Some(entry)) => Ok(entry),
            Ok(None) => Err(Status::not_found(format!("no asset named {name:?}"))),
            Err(e @ StoreError::InvalidName(_)) => Err(Status::invalid_argument(e.to_string())),
            Err(e) => {
                tracing::error!(error = %e, "reading a manifest");
                Err(Status::unavailable(e.to_string()))
            }
        }
    }
}

fn read_status(e: ReadError) -> Status {
    match e {
        ReadError::Invalid(e) => Status::invalid_argument(e.to_string()),
        ReadError::Store(e) => Status::unavailable(e),
    }
}

fn finite_nonneg(v: f64, what: &str) -> Result<f64, Status> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Status::invalid_argument(format!("{what} must be a finite number, 0 or more")))
    }
}

#[tonic::async_trait]
impl FragmentService for Fragments {
    async fn list_assets(
        &self,
        request: Request<pb::ListAssetsRequest>,
    ) -> Result<Response<pb::ListAssetsResponse>, Status> {
        let req = request.into_inner();
        let page = match req.page_size as usize {
            0 => 100,
            n => n.min(MAX_PAGE),
        };
        let names = self.library.names().await.map_err(|e| Status::unavailable(e.to_string()))?;
        let start = names.partition_point(|n| n.as_str() <= req.page_token.as_str() && !req.page_token.is_empty());
        let mut assets = Vec::new();
        let mut next = String::new();
        for name in names[start..].iter().filter(|n| n.starts_with(&req.prefix)) {
            if assets.len() == page {
                next = assets.last().map(|a: &pb::AssetSummary| a.name.clone()).unwrap_or_default();
                break;
            }
            match self.library.asset(name).await {
                Ok(Some(entry)) => assets.push(entry.summary()),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(asset = name.as_str(), error = %e, "skipping an asset whose manifest is unusable")
                }
            }
        }
        Ok(Response::new(pb::ListAssetsResponse { assets, next_page_token: next }))
    }

    async fn get_manifest(
        &self,
        request: Request<pb::GetManifestRequest>,
    ) -> Result<Response<pb::AssetManifest>, Status> {
        let entry = self.entry(&request.into_inner().asset).await?;
        Ok(Response::new(entry.to_proto()))
    }

    async fn get_fragment(&self, request: Request<pb::GetFragmentRequest>) -> Result<Response<pb::Fragment>, Status> {
        let id = request.into_inner().id;
        check_id(&id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let data = self
            .library
            .fragment(&id)
            .await
            .map_err(read_status)?
            .ok_or_else(|| Status::not_found(format!("no fragment {id}")))?;
        Metrics::inc(&self.metrics.fragments_sent);
        Metrics::add(&self.metrics.fragment_bytes_sent, data.len() as u64);
        Ok(Response::new(pb::Fragment { asset: String::new(), id, index: 0, data, quality: f64::NAN }))
    }

    type StreamFragmentsStream = ReceiverStream<Result<pb::StreamFragmentsResponse, Status>>;

    async fn stream_fragments(
        &self,
        request: Request<pb::StreamFragmentsRequest>,
    ) -> Result<Response<Self::StreamFragmentsStream>, Status> {
        let peer: Option<IpAddr> = request.extensions().get::<PeerAddr>().map(|p| p.0.ip());
        let req = request.into_inner();
        if req.assets.is_empty() {
            return Err(Status::invalid_argument("name at least one asset"));
        }
        if req.assets.len() > MAX_STREAM_ASSETS {
            return Err(Status::invalid_argument(format!("at most {MAX_STREAM_ASSETS} assets a stream")));
        }
        if req.have.len() > MAX_HAVE {
            return Err(Status::invalid_argument(format!("at most {MAX_HAVE} held fragment ids")));
        }
        let mut have = HashSet::with_capacity(req.have.len());
        for id in &req.have {
            have.insert(check_id(id).map_err(|e| Status::invalid_argument(e.to_string()))?);
        }
        let net = req.network.unwrap_or_default();
        let network = haagenti_stream::NetworkConditions {
            bandwidth_bps: finite_nonneg(net.bandwidth_bps, "bandwidth_bps")?,
            latency_ms: finite_nonneg(net.latency_ms, "latency_ms")?,
            packet_loss: finite_nonneg(net.packet_loss, "packet_loss")?.min(1.0),
        };
        let target = finite_nonneg(req.target_quality, "target_quality")?;
        let budget = Budget {
            max_bytes: (req.max_bytes > 0).then_some(req.max_bytes),
            max_time_ms: (req.max_time_ms > 0).then_some(req.max_time_ms),
            target_quality: (target > 0.0).then_some(target),
        };
        let mut entries = Vec::with_capacity(req.assets.len());
        for name in &req.assets {
            entries.push(self.entry(name).await?);
        }
        let slot = self.limits.open_stream(peer).map_err(|e| {
            Metrics::inc(&self.metrics.streams_refused);
            Status::resource_exhausted(e)
        })?;

        // Fragments held as a prefix count for the policy; any others are simply not resent.
        let held: Vec<usize> = entries
            .iter()
            .map(|e| e.manifest.fragments.iter().take_while(|id| have.contains(id.as_str())).count())
            .collect();
        let picks = policy::schedule(&entries, &held, &budget, network);
        Metrics::inc(&self.metrics.policy_streams);
        let hints = if req.session.is_empty() {
            Vec::new()
        } else {
            let hints = self.prefetcher.notify(&req.session, &req.assets);
            hints.into_iter().filter(|h| !req.assets.contains(h)).collect()
        };

        let (tx, rx) = mpsc::channel(4);
        let this = self.clone();
        let have: HashSet<String> = have.into_iter().map(str::to_string).collect();
        tokio::spawn(async move {
            let _slot = slot;
            let send = |event: Event| {
                let tx = tx.clone();
                let stall = this.stall;
                async move {
                    let msg = Ok(pb::StreamFragmentsResponse { event: Some(event) });
                    matches!(tokio::time::timeout(stall, tx.send(msg)).await, Ok(Ok(())))
                }
            };
            if !hints.is_empty() {
                Metrics::add(&this.metrics.prefetch_hints, hints.len() as u64);
                if !send(Event::Prefetch(pb::PrefetchHint { assets: hints.clone() })).await {
                    return;
                }
                let library = this.library.clone();
                tokio::spawn(async move { warm_assets(&library, &hints).await });
            }
            let mut prefix = held.clone();
            let (mut bytes_sent, mut fragments_sent) = (0u64, 0u32);
            let mut reason = policy::end_reason(&entries, &held, &picks, &budget);
            for pick in picks {
                if *this.shutdown.borrow() {
                    reason = Reason::Shutdown;
                    break;
                }
                let entry = &entries[pick.asset];
                let index = usize::from(pick.index);
                let id = &entry.manifest.fragments[index];
                if have.contains(id) {
                    continue;
                }
                let data = match this.library.fragment(id).await {
                    Ok(Some(d)) => d,
                    Ok(None) => {
                        let _ =
                            tx.send(Err(Status::unavailable(format!("fragment {id} is missing from the store")))).await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(read_status(e))).await;
                        return;
                    }
                };
                if prefix[pick.asset] == index {
                    prefix[pick.asset] += 1;
                }
                let quality = if prefix[pick.asset] > index {
                    entry.manifest.curve.at(prefix[pick.asset]).map_or(f64::NAN, |p| p.quality)
                } else {
                    f64::NAN
                };
                let len = data.len() as u64;
                let fragment = pb::Fragment {
                    asset: entry.name.clone(),
                    id: id.clone(),
                    index: u32::from(pick.index),
                    data,
                    quality,
                };
                if !send(Event::Fragment(fragment)).await {
                    tracing::info!(asset = entry.name.as_str(), "client stalled or left; stream ended");
                    return;
                }
                bytes_sent += len;
                fragments_sent += 1;
                Metrics::inc(&this.metrics.fragments_sent);
                Metrics::add(&this.metrics.fragment_bytes_sent, len);
            }
            let counter = match reason {
                Reason::ByteBudget => &this.metrics.policy_end_byte_budget,
                Reason::TimeBudget => &this.metrics.policy_end_time_budget,
                Reason::QualityReached => &this.metrics.policy_end_quality,
                Reason::Shutdown => &this.metrics.policy_end_shutdown,
                _ => &this.metrics.policy_end_complete,
            };
            Metrics::inc(counter);
            let end = pb::StreamEnd { reason: reason as i32, bytes_sent, fragments_sent };
            let _ = send(Event::End(end)).await;
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Loads the first fragments of predicted assets into the cache (about a preview's worth).
async fn warm_assets(library: &Library, names: &[String]) {
    for name in names {
        if let Ok(Some(entry)) = library.asset(name).await {
            let ids: Vec<String> = entry.manifest.fragments.iter().take(4).cloned().collect();
            library.warm(&ids).await;
        }
    }
}
