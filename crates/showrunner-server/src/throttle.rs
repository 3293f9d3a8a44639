//! Rate limits and the client's address.
//!
//! [`RateLimiter`] is GCRA (the generic cell rate algorithm, equivalent to a leaky bucket
//! used as a meter): per key it keeps one "theoretical arrival time"; a request is let
//! through when that time is no further ahead of now than the burst allows, and otherwise
//! told how long to wait. One instance limits each client IP on the auth routes, another
//! each API key. [`client_ip`] believes `X-Forwarded-For` only from configured proxies.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{address:?} is not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("prefix {p:?} is not between 0 and {max}"))?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        fn bits(address: IpAddr) -> (u128, u32) {
            match address {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        }
        // An IPv4 client seen through an IPv6 socket is the IPv4 address.
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        let (network, width) = bits(self.network);
        let (candidate, candidate_width) = bits(address);
        if width != candidate_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        if shift >= width {
            return true;
        }
        (network >> shift) == (candidate >> shift)
    }
}

/// The address a request came from: the socket's peer, or, when the peer is a trusted
/// proxy, the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
/// Requests without a peer (in-process tests) count as the unspecified address.
pub fn client_ip(
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
    trusted: &[Cidr],
) -> IpAddr {
    let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    // Walk from the proxy nearest us outwards; stop at the first hop no trusted proxy vouches
    // for. Every X-Forwarded-For header counts, in order.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // Garbage from beyond the trusted proxies: the last good hop is the client.
            Err(_) => break,
        }
    }
    client
}

/// Entries kept before idle ones are swept.
const SWEEP_ABOVE: usize = 100_000;

/// GCRA over keys of type `K`: `rate` requests a second on average, `burst` at once.
#[derive(Debug)]
pub struct RateLimiter<K> {
    /// Time between requests at the sustained rate.
    interval: Duration,
    /// How far ahead of now the theoretical arrival time may run.
    tolerance: Duration,
    arrivals: Mutex<HashMap<K, Instant>>,
    /// How many replicas share the limit (each lets through its share: the rate and the
    /// burst divided by this, the burst never below one).
    replicas: std::sync::atomic::AtomicU32,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `None` when `per_second` is zero (no limit).
    pub fn per_second(per_second: f64, burst: u32) -> Option<Self> {
        (per_second > 0.0).then(|| {
            let interval = Duration::from_secs_f64(1.0 / per_second);
            RateLimiter {
                interval,
                tolerance: interval * burst.max(1).saturating_sub(1),
                arrivals: Mutex::new(HashMap::new()),
                replicas: std::sync::atomic::AtomicU32::new(1),
            }
        })
    }

    /// Sets how many replicas share the limit (at least 1): with `n`, this one lets
    /// through a sustained `rate / n` and a burst of `burst / n` (at least 1), so that the
    /// replicas behind a load balancer that spreads requests evenly let through the
    /// configured rate between them.
    pub fn set_replicas(&self, replicas: u32) {
        self.replicas
            .store(replicas.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Lets one request of `key` through at `now`, or says how long until one would be.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Ok(mut arrivals) = self.arrivals.lock() else {
            return Ok(());
        };
        let replicas = self
            .replicas
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1);
        let interval = self.interval * replicas;
        // The burst in requests, divided between the replicas, at their slower interval.
        let burst = (self.tolerance.as_secs_f64() / self.interval.as_secs_f64()).round() as u32 + 1;
        let tolerance = interval * (burst / replicas).max(1).saturating_sub(1);
        if arrivals.len() > SWEEP_ABOVE {
            // Entries whose arrival time has passed hold no debt: forget them.
            arrivals.retain(|_, tat| *tat > now);
        }
        let tat = arrivals.get(key).copied().unwrap_or(now).max(now);
        let allowed_from = tat.checked_sub(tolerance).unwrap_or(now);
        if now < allowed_from {
            return Err(allowed_from - now);
        }
        arrivals.insert(key.clone(), tat + interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_share_the_rate_and_the_burst() {
        let limiter = RateLimiter::per_second(10.0, 4).expect("a limit");
        let now = Instant::now();
        let through = |limiter: &RateLimiter<u8>, key: u8| {
            (0..20).filter(|_| limiter.check(&key, now).is_ok()).count()
        };
        assert_eq!(through(&limiter, 1), 4, "the whole burst on one replica");
        limiter.set_replicas(2);
        assert_eq!(
            through(&limiter, 2),
            2,
            "half the burst each on two replicas"
        );
        // And half the sustained rate: the next request of a key waits two intervals.
        let wait = limiter.check(&2, now).expect_err("over the burst");
        assert!(wait > Duration::from_millis(150), "{wait:?}");
        limiter.set_replicas(8);
        assert_eq!(through(&limiter, 3), 1, "never below one request");
        limiter.set_replicas(0);
        assert_eq!(through(&limiter, 4), 4, "zero replicas counts as one");
    }

    #[test]
    fn gcra_lets_a_burst_through_then_the_rate() {
        let limiter = RateLimiter::per_second(10.0, 3).expect("limits");
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(&"a", start).is_ok());
        }
        let wait = limiter.check(&"a", start).expect_err("over the burst");
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!(limiter.check(&"b", start).is_ok(), "keys are independent");
        assert!(
            limiter
                .check(&"a", start + Duration::from_millis(101))
                .is_ok()
        );
        assert!(RateLimiter::<u8>::per_second(0.0, 5).is_none());
    }

    #[test]
    fn cidrs_match_their_networks() {
        let net: Cidr = "10.1.0.0/16".parse().expect("parses");
        assert!(net.contains("10.1.200.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        assert!(net.contains("::ffff:10.1.0.9".parse().expect("ip")));
        let all: Cidr = "0.0.0.0/0".parse().expect("parses");
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
        let v6: Cidr = "2001:db8::/32".parse().expect("parses");
        assert!(v6.contains("2001:db8:1::1".parse().expect("ip")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy.local".parse::<Cidr>().is_err());
    }
}
