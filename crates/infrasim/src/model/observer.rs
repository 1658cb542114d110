//! Hooks for research code: receive every request's completion and every component state
//! change, to compute metrics the report does not have, without forking the models.
//!
//! Observing is off by default and costs one branch per request when off.

use infrasim_engine::SimTime;

use crate::model::call::Outcome;
use crate::scenario::Class;

/// One finished request, as an [`Observer`] sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    /// Its class.
    pub class: Class,
    /// When the client first offered it.
    pub offered_at: SimTime,
    /// When it ended (success, or final failure after any client retries).
    pub finished_at: SimTime,
    /// How it ended.
    pub outcome: Outcome,
    /// Client attempts (1 + retries used).
    pub attempts: u32,
    /// Whether it counts in the report (offered after the warm-up).
    pub measured: bool,
    /// The client's source address.
    pub client_addr: u32,
}

/// Receives events from a run. Every method has an empty default: implement what you need.
pub trait Observer {
    /// A request ended.
    fn request_finished(&mut self, _record: &RequestRecord) {}
    /// A component changed state: a server marked DOWN/UP by a load balancer, a VRRP
    /// takeover, a promotion, a fault starting or ending. `component` is its name.
    fn state_changed(&mut self, _at: SimTime, _component: &str, _what: &str) {}
}
