//! Client connections (`clients.connections`) and TLS termination (`load_balancers[].tls`).

use infrasim_engine::SimDuration;

use super::Validator;
use crate::scenario::{Scenario, TlsVersion};

/// The longest idle time, session lifetime or keep-alive timeout accepted: a day.
const MAX_IDLE: SimDuration = SimDuration::from_secs(86_400);
/// The largest CPU cost of one handshake, connection or request accepted: a second.
const MAX_COST: SimDuration = SimDuration::from_secs(1);

impl Validator {
    pub(super) fn connections_and_tls(&mut self, s: &Scenario) {
        if let Some(c) = &s.clients.connections {
            self.positive("clients.connections.keep_alive".into(), c.keep_alive);
            self.at_most("clients.connections.keep_alive", c.keep_alive, MAX_IDLE);
        }
        for (i, lb) in s.load_balancers.iter().enumerate() {
            let p = format!("load_balancers[{i}]");
            if let Some(k) = lb.timeouts.http_keep_alive {
                self.positive(format!("{p}.timeouts.http_keep_alive"), k);
                self.at_most(&format!("{p}.timeouts.http_keep_alive"), k, MAX_IDLE);
            }
            self.at_most(
                &format!("{p}.cpu.per_connection"),
                lb.cpu.per_connection,
                MAX_COST,
            );
            let Some(t) = &lb.tls else {
                continue;
            };
            if s.clients.connections.is_none() {
                self.err(
                    format!("{p}.tls"),
                    "tls without clients.connections",
                    "`clients.connections` set: TLS sessions live on connections",
                );
            }
            for (key, d) in [
                ("full_handshake", t.full_handshake),
                ("resumed_handshake", t.resumed_handshake),
            ] {
                if let Some(d) = d {
                    self.at_most(&format!("{p}.tls.{key}"), d, MAX_COST);
                }
            }
            self.at_most(&format!("{p}.tls.bulk_per_kb"), t.bulk_per_kb, MAX_COST);
            self.positive(format!("{p}.tls.lifetime"), t.lifetime);
            self.at_most(&format!("{p}.tls.lifetime"), t.lifetime, MAX_IDLE);
            if !(t.kb_per_request.is_finite() && (0.0..=1e6).contains(&t.kb_per_request)) {
                self.err(
                    format!("{p}.tls.kb_per_request"),
                    t.kb_per_request,
                    "a size in KB between 0 and 1e6",
                );
            }
            if t.early_data && t.version != TlsVersion::V13 {
                self.err(
                    format!("{p}.tls.early_data"),
                    true,
                    "early data (0-RTT) only with version \"1.3\"",
                );
            }
        }
    }

    fn at_most(&mut self, path: &str, d: SimDuration, max: SimDuration) {
        if d > max {
            self.err(path, d, format!("a duration of at most {max}"));
        }
    }
}
