//! DNS discovery of upstreams (`dns:` upstreams): the core's
//! [`NameResolver`] on hickory-resolver, whose cache keeps each answer for
//! its records' TTL.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_core::discovery::{DirectoryError, DnsQuery, Instance, NameResolver};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

/// A caching stub resolver.
#[derive(Clone)]
pub struct DnsResolver {
    resolver: TokioResolver,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver").finish_non_exhaustive()
    }
}

impl DnsResolver {
    /// The system's resolver configuration (`/etc/resolv.conf`, hosts
    /// file). Without a readable configuration, only the hosts file answers.
    pub fn system() -> Result<Self, String> {
        let builder = TokioResolver::builder_tokio().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no system DNS configuration; DNS upstreams resolve from the hosts file only");
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(Vec::new()),
                TokioRuntimeProvider::default(),
            )
        });
        let resolver = builder.build().map_err(|e| e.to_string())?;
        Ok(Self { resolver })
    }

    /// A resolver asking only the name server at `addr` over UDP, once per
    /// lookup with `timeout`, without the hosts file (tests, or a dedicated
    /// discovery DNS server).
    pub fn with_name_server(addr: SocketAddr, timeout: Duration) -> Result<Self, String> {
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let server = NameServerConfig::new(addr.ip(), true, vec![udp]);
        let mut opts = ResolverOpts::default();
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        opts.attempts = 1;
        opts.timeout = timeout;
        let resolver = Resolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![server]),
            TokioRuntimeProvider::default(),
        )
        .with_options(opts)
        .build()
        .map_err(|e| e.to_string())?;
        Ok(Self { resolver })
    }
}

fn instance(query: &DnsQuery, address: String, port: u16, weight: u32) -> Instance {
    Instance {
        id: format!("{address}:{port}"),
        service: query.name.clone(),
        address,
        port,
        scheme: "http".to_owned(),
        weight,
        zone: None,
        version: None,
        metadata: Default::default(),
    }
}

#[async_trait::async_trait]
impl NameResolver for DnsResolver {
    async fn resolve(&self, query: &DnsQuery) -> Result<Vec<Instance>, DirectoryError> {
        if query.srv {
            let lookup = match self.resolver.srv_lookup(query.name.as_str()).await {
                Ok(l) => l,
                Err(e) if e.is_no_records_found() => return Ok(Vec::new()),
                Err(_) => return Err(DirectoryError::Lookup),
            };
            let records: Vec<_> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(srv) => Some(srv),
                    _ => None,
                })
                .collect();
            // Lower priority values are preferred; only that group is used.
            let best = records.iter().map(|s| s.priority).min();
            Ok(records
                .iter()
                .filter(|s| Some(s.priority) == best)
                .filter(|s| !s.target.is_root())
                .map(|s| {
                    let target = s.target.to_ascii();
                    let target = target.trim_end_matches('.').to_ascii_lowercase();
                    instance(query, target, s.port, u32::from(s.weight).max(1))
                })
                .collect())
        } else {
            match self.resolver.lookup_ip(query.name.as_str()).await {
                Ok(ips) => Ok(ips
                    .iter()
                    .map(|ip| instance(query, ip.to_string(), query.port, 1))
                    .collect()),
                Err(e) if e.is_no_records_found() => Ok(Vec::new()),
                Err(_) => Err(DirectoryError::Lookup),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hickory_resolver::proto::op::{Message, ResponseCode};
    use hickory_resolver::proto::rr::rdata::{A, SRV};
    use hickory_resolver::proto::rr::{Name, Record, RecordType};
    use tokio::net::UdpSocket;

    use super::*;

    /// A name server on loopback that answers SRV and A questions for
    /// `*.test.` with the given TTL, NXDOMAIN for anything else, and
    /// counts the questions it gets.
    async fn name_server(ttl: u32) -> (SocketAddr, Arc<AtomicUsize>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = socket.local_addr().expect("addr");
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let Some(q) = query.queries.first().cloned() else {
                    continue;
                };
                let mut resp = query.into_response();
                let name = q.name().clone();
                let known = name.to_ascii().ends_with(".test.");
                match q.query_type() {
                    RecordType::SRV if known => {
                        for (prio, weight, port, target) in [
                            (10, 5, 8081, "a.test."),
                            (10, 0, 8082, "b.test."),
                            (20, 1, 8083, "backup.test."),
                        ] {
                            let target = Name::from_ascii(target).expect("name");
                            resp.add_answer(Record::from_rdata(
                                name.clone(),
                                ttl,
                                RData::SRV(SRV::new(prio, weight, port, target)),
                            ));
                        }
                    }
                    RecordType::A if known => {
                        resp.add_answer(Record::from_rdata(
                            name.clone(),
                            ttl,
                            RData::A(A::new(10, 0, 0, 9)),
                        ));
                    }
                    RecordType::AAAA if known => {}
                    _ => resp.metadata.response_code = ResponseCode::NXDomain,
                }
                if let Ok(bytes) = resp.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        (addr, asked)
    }

    fn srv(name: &str) -> DnsQuery {
        DnsQuery {
            name: name.into(),
            port: 0,
            srv: true,
        }
    }

    #[tokio::test]
    async fn srv_records_give_targets_ports_and_weights_of_the_best_priority() {
        let (addr, _) = name_server(300).await;
        let r = DnsResolver::with_name_server(addr, Duration::from_secs(1)).expect("resolver");
        let mut found = r
            .resolve(&srv("_http._tcp.users.test."))
            .await
            .expect("found");
        found.sort_by_key(|i| i.port);
        let got: Vec<(String, u16, u32)> = found
            .iter()
            .map(|i| (i.address.clone(), i.port, i.weight))
            .collect();
        assert_eq!(
            got,
            [("a.test".into(), 8081, 5), ("b.test".into(), 8082, 1)],
            "priority 20 is a backup group; weight 0 counts as 1"
        );
        assert_eq!(found[0].id, "a.test:8081");
    }

    #[tokio::test]
    async fn a_records_give_addresses_with_the_configured_port() {
        let (addr, _) = name_server(300).await;
        let r = DnsResolver::with_name_server(addr, Duration::from_secs(1)).expect("resolver");
        let q = DnsQuery {
            name: "users.test.".into(),
            port: 9000,
            srv: false,
        };
        let found = r.resolve(&q).await.expect("found");
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].address.as_str(), found[0].port),
            ("10.0.0.9", 9000)
        );
        let missing = DnsQuery {
            name: "nothing.example.".into(),
            ..q
        };
        assert!(
            r.resolve(&missing)
                .await
                .expect("no records is not an error")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn answers_are_cached_for_their_ttl() {
        let (addr, asked) = name_server(3600).await;
        let r = DnsResolver::with_name_server(addr, Duration::from_secs(1)).expect("resolver");
        for _ in 0..3 {
            assert_eq!(
                r.resolve(&srv("_x._tcp.long.test."))
                    .await
                    .expect("found")
                    .len(),
                2
            );
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "a 1 h TTL: asked once");

        let (addr, asked) = name_server(0).await;
        let r = DnsResolver::with_name_server(addr, Duration::from_secs(1)).expect("resolver");
        for _ in 0..3 {
            assert_eq!(
                r.resolve(&srv("_x._tcp.short.test."))
                    .await
                    .expect("found")
                    .len(),
                2
            );
        }
        assert_eq!(
            asked.load(Ordering::SeqCst),
            3,
            "a zero TTL: asked every time"
        );
    }

    #[tokio::test]
    async fn an_unreachable_name_server_is_a_lookup_error() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = socket.local_addr().expect("addr");
        drop(socket);
        let r = DnsResolver::with_name_server(addr, Duration::from_secs(1)).expect("resolver");
        let err = r
            .resolve(&srv("_x._tcp.users.test."))
            .await
            .expect_err("fails");
        assert!(matches!(err, DirectoryError::Lookup), "{err:?}");
    }
}
