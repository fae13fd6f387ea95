//! Which peers may tell us who the client is.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address.
pub(crate) fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{s}` is not an IP address or CIDR network"))
}

/// The trusted-proxies list. Empty (the default) means only the peer address
/// counts and client-sent forwarding headers never decide the client IP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// A list of trusted networks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self { nets }
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address: the peer, unless the peer is trusted, in which
    /// case `X-Forwarded-For` is walked from the right past trusted hops.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if self.nets.is_empty() || !self.is_trusted(peer) {
            return peer;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !self.is_trusted(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// Maps IPv4-mapped IPv6 addresses to IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    // `[v6]:port` or `v4:port`
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    hop.rsplit_once(':')?.0.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().expect("header"));
        h
    }

    #[test]
    fn untrusted_peer_decides() {
        let t = TrustedProxies::default();
        let peer: IpAddr = "203.0.113.9".parse().expect("ip");
        assert_eq!(t.client_ip(peer, &headers("1.2.3.4")), peer);
    }

    #[test]
    fn trusted_chain_walks_from_right() {
        let t = TrustedProxies::new(vec![parse_net("10.0.0.0/8").expect("net")]);
        let peer: IpAddr = "10.0.0.1".parse().expect("ip");
        let got = t.client_ip(peer, &headers("6.6.6.6, 198.51.100.7, 10.1.1.1"));
        assert_eq!(
            got,
            "198.51.100.7".parse::<IpAddr>().expect("ip"),
            "spoofed left entry ignored"
        );
    }

    #[test]
    fn mapped_v6_peer_is_v4() {
        let t = TrustedProxies::new(vec![parse_net("127.0.0.1").expect("net")]);
        let peer: IpAddr = "::ffff:127.0.0.1".parse().expect("ip");
        assert!(t.is_trusted(peer));
        assert_eq!(
            t.client_ip(peer, &headers("[2001:db8::1]:443")),
            "2001:db8::1".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn bad_nets_are_rejected() {
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("example.com").is_err());
    }
}
