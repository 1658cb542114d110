//! The scenario's client connections (`clients.connections`) and a load balancer's TLS
//! termination (`load_balancers[].tls`), with the real systems' defaults and their sources.

use infrasim_engine::SimDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How clients hold connections to the entry point (HTTP/1.1 keep-alive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connections {
    /// Requests a client sends on one connection before closing it; 0 = no limit. Browsers
    /// set none (nginx's `keepalive_requests`, 1000 since 1.19.10, is a server-side limit;
    /// HAProxy has none).
    #[serde(default)]
    pub requests_per_connection: u32,
    /// How long a client keeps an idle connection open (Firefox
    /// `network.http.keep-alive.timeout`, 115 s in modules/libpref/init/all.js).
    #[serde(default = "keep_alive_default")]
    pub keep_alive: SimDuration,
    /// Concurrent connections per client address to one host: 6, as browsers open for
    /// HTTP/1.1 (Firefox `network.http.max-persistent-connections-per-server`, 6 since
    /// Firefox 3, MozillaZine; Chrome's per-host limit is 6 too).
    /// A request finding all of them busy waits for one. 0 = no limit.
    #[serde(default = "max_per_address_default")]
    pub max_per_address: u32,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            requests_per_connection: 0,
            keep_alive: keep_alive_default(),
            max_per_address: max_per_address_default(),
        }
    }
}

/// Firefox `network.http.keep-alive.timeout` default (115 s).
fn keep_alive_default() -> SimDuration {
    SimDuration::from_secs(115)
}
/// Browsers' HTTP/1.1 connections per host (6).
fn max_per_address_default() -> u32 {
    6
}

/// TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TlsVersion {
    /// TLS 1.2: full handshake 2 round trips, resumed 1 (RFC 5246).
    #[serde(rename = "1.2")]
    V12,
    /// TLS 1.3: full handshake 1 round trip, resumed 1 or 0 with early data (RFC 8446).
    #[serde(rename = "1.3")]
    V13,
}

/// The certificate's key type: what the server's signature in a full handshake costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// RSA 2048 bits.
    Rsa2048,
    /// RSA 3072 bits.
    Rsa3072,
    /// ECDSA on P-256.
    EcdsaP256,
}

/// TLS termination at a load balancer (HAProxy `bind ... ssl crt ...`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// `"1.2"` or `"1.3"` (default: 1.3, what HAProxy and current browsers negotiate).
    #[serde(default = "version_default")]
    pub version: TlsVersion,
    /// `rsa-2048` (default), `rsa-3072` or `ecdsa-p256`.
    #[serde(default = "key_default")]
    pub key: KeyType,
    /// CPU of a full handshake on one core; default from the key type (see `docs/models.md`).
    #[serde(default)]
    pub full_handshake: Option<SimDuration>,
    /// CPU of a resumed handshake on one core; default from the version.
    #[serde(default)]
    pub resumed_handshake: Option<SimDuration>,
    /// TLS 1.3 0-RTT: a resumed client sends its request with its ClientHello (HAProxy
    /// `allow-0rtt`, off by default; browsers rarely send early data).
    #[serde(default)]
    pub early_data: bool,
    /// Stateless session tickets (RFC 5077; HAProxy issues them unless `no-tls-tickets`).
    #[serde(default = "tickets_default")]
    pub session_tickets: bool,
    /// Whether the members of an LB pair share their ticket keys (`tls-ticket-keys` file
    /// on both); otherwise each member's keys are its own and regenerated at start.
    #[serde(default)]
    pub shared_ticket_keys: bool,
    /// `tune.ssl.cachesize`: sessions the LB's cache holds (default 20000).
    #[serde(default = "cache_size_default")]
    pub cache_size: u32,
    /// `tune.ssl.lifetime`: how long a session may be resumed (default 300 s).
    #[serde(default = "lifetime_default")]
    pub lifetime: SimDuration,
    /// Bulk encryption CPU per KB (AES-128-GCM ≈ 2.9 GB/s per core: 0.35 µs/KB).
    #[serde(default = "bulk_per_kb_default")]
    pub bulk_per_kb: SimDuration,
    /// KB encrypted per request beyond what `cpu.per_request` covers (default 0: HAProxy's
    /// 160 000 keep-alive HTTPS requests/s per core, the source of `per_request`, already
    /// include small objects' encryption).
    #[serde(default)]
    pub kb_per_request: f64,
    /// Re-encryption towards the servers: the LB encrypts each request again and the
    /// server decrypts it (connections to servers are reused, HAProxy `http-reuse safe`).
    #[serde(default)]
    pub to_servers: bool,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            version: version_default(),
            key: key_default(),
            full_handshake: None,
            resumed_handshake: None,
            early_data: false,
            session_tickets: true,
            shared_ticket_keys: false,
            cache_size: cache_size_default(),
            lifetime: lifetime_default(),
            bulk_per_kb: bulk_per_kb_default(),
            kb_per_request: 0.0,
            to_servers: false,
        }
    }
}

fn version_default() -> TlsVersion {
    TlsVersion::V13
}
fn key_default() -> KeyType {
    KeyType::Rsa2048
}
fn tickets_default() -> bool {
    true
}
/// HAProxy `tune.ssl.cachesize` default (configuration manual).
fn cache_size_default() -> u32 {
    20_000
}
/// HAProxy `tune.ssl.lifetime` default (configuration manual): 300 s.
fn lifetime_default() -> SimDuration {
    SimDuration::from_secs(300)
}
/// 1 KB at 2.9 GB/s (OpenSSL 3.0 `speed` AES-128-GCM, 16 KB blocks, one core).
fn bulk_per_kb_default() -> SimDuration {
    SimDuration::from_nanos(350)
}
