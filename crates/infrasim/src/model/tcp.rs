//! TCP, as far as the model's connections need it: what a lost or dropped segment costs.
//!
//! Every connection between components is TCP: a client to the load balancer, the load
//! balancer to a server (and its health checks), a web server to its upstream, an app
//! server to the database. A segment that does not arrive — lost on a lossy link, cut by a
//! partition, sent to a host that is down, or dropped by the receiving kernel because the
//! listen backlog is full — is not gone: the sender retransmits it when its retransmission
//! timer (RTO) fires, doubling the timer each time, until it gives up. So loss costs time and
//! fails a request only when the retransmissions outlast somebody's timeout.
//!
//! * **Opening a connection** (the SYN: [`Msg::Call`], [`Msg::Probe`]). The handshake
//!   needs the SYN to arrive and the SYN-ACK to come back, so a loss in either direction
//!   costs a retransmission. The first retransmission comes after the initial RTO of 1 s
//!   (RFC 6298 §2.1; Linux `TCP_TIMEOUT_INIT`), then the timer doubles: SYNs leave at 0, 1,
//!   3, 7, 15, 31 and 63 s, and after `tcp_syn_retries` (6, Linux ip-sysctl) the connection
//!   attempt fails 127 s after the first SYN (the caller sees it as a failed connection).
//! * **Data** (a request once its connection is up, a response [`Msg::Reply`], a check's
//!   answer [`Msg::ProbeReply`]). The RTO is what Linux derives from the connection's first
//!   RTT sample R (`tcp_rtt_estimator()`, `tcp_set_rto()`): srtt + max(2·R, `TCP_RTO_MIN`
//!   200 ms) — 200 ms + R on a LAN — doubling up to `TCP_RTO_MAX` (120 s); after
//!   `tcp_retries2` (15) retransmissions the connection is abandoned (about 15 minutes).
//! * A client's request on a **reused keep-alive connection** is data from its first
//!   transmission (`model/connection.rs`); a **TLS handshake's flights** are data too, their
//!   losses drawn by `Network::retransmission_delay` on the same timers.
//! * A **reset** ([`Msg::Reset`]) is never retransmitted; random loss does not touch it
//!   (a lost RST is answered by the peer's next retransmission with another RST: the model
//!   skips that delay), but a partition or a dead host stops it.
//! * **Datagrams** — VRRP advertisements (IP protocol 112, multicast) — are sent once.
//! * The **binlog stream** of replication is a TCP connection with its own model
//!   (`database/replication.rs`: a lost segment holds up everything behind it until its
//!   retransmission, on the data timers above, gets through); its semi-sync
//!   acknowledgements are data ([`Msg::ReplAck`]).
//!
//! Each transmission is decided when it leaves (by [`crate::model::network::Network`]), from
//! the network as it is at that moment: a partition that heals or a VIP that moves meanwhile
//! lets the next retransmission through (a SYN to a virtual IP goes to whichever host owns it
//! when it is sent, as the gratuitous ARP of a VRRP takeover redirects it).

use infrasim_engine::SimDuration;

use crate::model::vocabulary::Msg;

/// Linux `TCP_TIMEOUT_INIT` (RFC 6298 §2.1): the first SYN retransmission timer.
pub(crate) const SYN_RTO: SimDuration = SimDuration::from_secs(1);
/// Linux `tcp_syn_retries` default (ip-sysctl): SYN retransmissions before `connect()` fails.
pub(crate) const SYN_RETRIES: u8 = 6;
/// Linux `TCP_RTO_MIN` (200 ms): the floor of the data retransmission timer's variance term.
pub(crate) const RTO_MIN: SimDuration = SimDuration::from_millis(200);
/// Linux `TCP_RTO_MAX` (120 s): the ceiling of the retransmission timer.
pub(crate) const RTO_MAX: SimDuration = SimDuration::from_secs(120);
/// Linux `tcp_retries2` default (ip-sysctl): data retransmissions before the connection is
/// abandoned.
pub(crate) const DATA_RETRIES: u8 = 15;

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Opens a connection (a SYN); `data`: a request follows once the connection is up.
    Connect { data: bool },
    /// Data on an established connection.
    Data,
    /// A TCP reset.
    Reset,
    /// Sent once, never retransmitted.
    Datagram,
}

impl Msg {
    /// How this message travels.
    #[inline]
    pub(crate) fn transport(&self) -> Transport {
        match self {
            Msg::Call(_) => Transport::Connect { data: true },
            Msg::Probe { .. } => Transport::Connect { data: false },
            Msg::Reply { .. } | Msg::ProbeReply { .. } | Msg::ReplAck { .. } => Transport::Data,
            Msg::Reset(_) => Transport::Reset,
            Msg::Advert { .. } => Transport::Datagram,
        }
    }
}

/// Which transmission of a segment this is: the phase (the SYN, or the data once the
/// handshake is done) and how many times it was retransmitted in that phase. One byte, so an
/// event in flight carries it for free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attempt(u8);

/// The data-phase bit of an [`Attempt`].
const DATA_PHASE: u8 = 0x80;

impl Attempt {
    /// The first transmission.
    pub(crate) const FIRST: Attempt = Attempt(0);

    /// The attempt an event carries.
    #[inline]
    pub(crate) fn from_byte(b: u8) -> Attempt {
        Attempt(b)
    }

    /// The byte an event carries.
    #[inline]
    pub(crate) fn byte(self) -> u8 {
        self.0
    }

    /// The first transmission of the data once a connection's handshake is done.
    pub(crate) fn data() -> Attempt {
        Attempt(DATA_PHASE)
    }

    /// The same transmission count, in the data phase: a segment on an established
    /// connection (a response) starts there.
    pub(crate) fn as_data(self) -> Attempt {
        Attempt(self.0 | DATA_PHASE)
    }

    /// Whether the handshake is done (the data is being sent).
    #[inline]
    pub(crate) fn is_data(self) -> bool {
        self.0 & DATA_PHASE != 0
    }

    /// Retransmissions so far in this phase.
    #[inline]
    pub(crate) fn retransmissions(self) -> u8 {
        self.0 & !DATA_PHASE
    }

    /// The next transmission in the same phase.
    pub(crate) fn next(self) -> Attempt {
        Attempt(self.0 & DATA_PHASE | (self.retransmissions() + 1).min(!DATA_PHASE))
    }

    /// Whether the sender gives up when this transmission is lost: it was the last one its
    /// retry limit allows (`tcp_syn_retries` for a SYN, `tcp_retries2` for data).
    pub(crate) fn last(self) -> bool {
        let limit = if self.is_data() {
            DATA_RETRIES
        } else {
            SYN_RETRIES
        };
        self.retransmissions() >= limit
    }

    /// The retransmission timer armed when this transmission left: 1 s doubling for a SYN;
    /// for data, srtt + max(2·rtt, 200 ms) doubling, at most 120 s (see the module docs).
    pub(crate) fn rto(self, rtt: SimDuration) -> SimDuration {
        let base = if self.is_data() {
            rtt.saturating_add((rtt * 2).max(RTO_MIN))
        } else {
            SYN_RTO
        };
        let k = u32::from(self.retransmissions()).min(20);
        SimDuration::from_nanos(base.as_nanos().saturating_mul(1 << k)).min(RTO_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN to a host that never answers leaves at 0, 1, 3, 7, 15, 31 and 63 s and the
    /// connection attempt fails at 127 s (Linux defaults).
    #[test]
    fn syn_retransmissions_follow_linux() {
        let mut a = Attempt::FIRST;
        let mut t = SimDuration::ZERO;
        let mut sent = vec![t];
        while !a.last() {
            t += a.rto(SimDuration::ZERO);
            a = a.next();
            sent.push(t);
        }
        t += a.rto(SimDuration::ZERO);
        let secs: Vec<u64> = sent.iter().map(|d| d.as_nanos() / 1_000_000_000).collect();
        assert_eq!(secs, [0, 1, 3, 7, 15, 31, 63]);
        assert_eq!(t, SimDuration::from_secs(127));
    }

    /// Data: 200 ms + RTT on a LAN, the variance term on a long path, doubling, capped at
    /// 120 s; 15 retransmissions.
    #[test]
    fn data_retransmission_timer() {
        let lan = SimDuration::from_micros(200);
        let a = Attempt::data();
        assert!(a.is_data() && !Attempt::FIRST.is_data());
        assert_eq!(a.rto(lan), SimDuration::from_micros(200_200));
        assert_eq!(a.next().rto(lan), SimDuration::from_micros(400_400));
        let wan = SimDuration::from_millis(150);
        assert_eq!(a.rto(wan), SimDuration::from_millis(450));
        let mut late = a;
        let mut n = 0;
        while !late.last() {
            late = late.next();
            n += 1;
        }
        assert_eq!(n, DATA_RETRIES);
        assert_eq!(late.rto(lan), RTO_MAX);
        assert_eq!(Attempt::from_byte(late.byte()), late);
    }
}
