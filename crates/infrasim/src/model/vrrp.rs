//! A keepalived (VRRP) pair of load balancers in active-passive (keepalived.conf(5); RFC
//! 3768 for VRRP v2, RFC 5798 for v3): the master owns the virtual IP and advertises every
//! `advert_int` (1 s); a backup whose master-down timer — `3 × advert_int + skew_time`, with
//! `skew_time = (256 − priority) / 256` s in v2 and `× advert_int` in v3 — expires without
//! an advertisement takes the VIP. A master that stops cleanly, or whose `vrrp_script`
//! (the usual `chk_haproxy`, `interval 1`, `weight 0`) fails, announces priority 0 and the
//! backup takes over after `skew_time` alone. With `preempt` (the default) a returning
//! higher-priority node takes the VIP back — a second disruption. Client connections held by
//! the node that loses the VIP are dropped: HAProxy does not synchronise connection state.

use infrasim_engine::{Context, SimDuration};

use crate::model::World;
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::scenario::{self, CrashMode};

/// A VRRP instance's state on one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vrrp {
    /// Owns the VIP and advertises.
    Master,
    /// Listens; takes over when the master-down timer expires.
    Backup,
    /// Its tracked script failed (HAProxy is dead): it gave up the VIP.
    Fault,
    /// The host is down.
    Down,
}

/// A keepalived pair.
pub(crate) struct VrrpPair {
    pub members: [Node; 2],
    pub advert_int: SimDuration,
    pub priorities: [u32; 2],
    pub version: u32,
    pub preempt: bool,
    /// Which member the VIP points to.
    pub vip_owner: Option<u32>,
    pub state: [Vrrp; 2],
    /// Master-down timer generation per member (a reset makes older timers stale).
    pub epoch: [u32; 2],
}

impl VrrpPair {
    /// A keepalived pair as the scenario describes it, its members resolved; no VIP owner
    /// until [`World::start_vrrp`] makes the first member master.
    pub(crate) fn new(spec: &scenario::LbPair, members: [Node; 2]) -> Self {
        VrrpPair {
            members,
            advert_int: spec.advert_int,
            priorities: spec.priorities,
            version: spec.vrrp_version,
            preempt: spec.preempt,
            vip_owner: None,
            state: [Vrrp::Backup, Vrrp::Backup],
            epoch: [0, 0],
        }
    }

    /// The load balancer the VIP points to now, if any.
    pub(crate) fn vip(&self) -> Option<Node> {
        self.vip_owner.map(|m| self.members[m as usize])
    }

    /// VRRP skew time of `member`.
    pub(crate) fn skew(&self, member: usize) -> SimDuration {
        let p = u64::from(256 - self.priorities[member].min(255));
        if self.version == 3 {
            SimDuration::from_nanos(self.advert_int.as_nanos() * p / 256)
        } else {
            SimDuration::from_nanos(1_000_000_000 * p / 256)
        }
    }

    /// Master_Down_Interval = 3 × advert_int + skew_time.
    pub(crate) fn master_down_interval(&self, member: usize) -> SimDuration {
        self.advert_int * 3 + self.skew(member)
    }
}

impl World {
    /// Starts every keepalived pair: the first member is master and advertises; the other
    /// listens.
    pub(crate) fn start_vrrp(&mut self, cx: &mut Context<'_, Ev>) {
        for p in 0..self.vrrp.len() {
            let pair = &mut self.vrrp[p];
            pair.state = [Vrrp::Master, Vrrp::Backup];
            pair.vip_owner = Some(0);
            cx.schedule_in(
                SimDuration::ZERO,
                Ev::VrrpAdvert {
                    pair: p as u32,
                    member: 0,
                },
            );
            self.arm_master_down(cx, p as u32, 1, None);
        }
    }

    fn arm_master_down(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        member: u32,
        wait: Option<SimDuration>,
    ) {
        let p = &mut self.vrrp[pair as usize];
        let m = member as usize;
        p.epoch[m] = p.epoch[m].wrapping_add(1);
        let d = wait.unwrap_or_else(|| p.master_down_interval(m));
        let epoch = p.epoch[m];
        cx.schedule_in(
            d,
            Ev::VrrpMasterDown {
                pair,
                member,
                epoch,
            },
        );
    }

    /// The master's advertisement timer: check HAProxy (the tracked script), then advertise.
    pub(crate) fn vrrp_advert(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32) {
        let p = &self.vrrp[pair as usize];
        let m = member as usize;
        if p.state[m] != Vrrp::Master {
            return;
        }
        let node = p.members[m];
        let other = p.members[1 - m];
        match self.state(node).down {
            Some(CrashMode::Host) => return,
            Some(CrashMode::Process) => {
                // `vrrp_script chk_haproxy` failed: FAULT, announce priority 0.
                self.vrrp[pair as usize].state[m] = Vrrp::Fault;
                self.send(
                    cx,
                    node,
                    other,
                    Msg::Advert {
                        pair,
                        member,
                        priority: 0,
                    },
                );
                return;
            }
            None => {}
        }
        let priority = p.priorities[m];
        let every = p.advert_int;
        self.send(
            cx,
            node,
            other,
            Msg::Advert {
                pair,
                member,
                priority,
            },
        );
        cx.schedule_in(every, Ev::VrrpAdvert { pair, member });
    }

    /// A node receives the other's advertisement.
    pub(crate) fn vrrp_receive(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        from_member: u32,
        priority: u32,
        _from: Node,
    ) {
        let me = 1 - from_member as usize;
        let p = &self.vrrp[pair as usize];
        if p.state[me] == Vrrp::Down {
            return;
        }
        let mine = p.priorities[me];
        match p.state[me] {
            Vrrp::Backup | Vrrp::Fault => {
                if priority == 0 {
                    // The master resigned: take over after skew_time.
                    let skew = p.skew(me);
                    if p.state[me] == Vrrp::Backup {
                        self.arm_master_down(cx, pair, me as u32, Some(skew));
                    }
                } else if priority >= mine || !p.preempt {
                    self.arm_master_down(cx, pair, me as u32, None);
                }
                // A lower-priority advert is discarded by a preempting backup: its timer
                // runs out and it takes the VIP.
            }
            Vrrp::Master => {
                if priority > mine {
                    // A higher-priority master exists: step down.
                    self.vrrp[pair as usize].state[me] = Vrrp::Backup;
                    self.arm_master_down(cx, pair, me as u32, None);
                }
            }
            Vrrp::Down => {}
        }
    }

    pub(crate) fn vrrp_master_down(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        member: u32,
        epoch: u32,
    ) {
        let p = &self.vrrp[pair as usize];
        let m = member as usize;
        if p.epoch[m] != epoch || p.state[m] != Vrrp::Backup {
            return;
        }
        let node = p.members[m];
        if self.state(node).down.is_some() {
            return;
        }
        self.become_master(cx, pair, member);
    }

    fn become_master(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32) {
        let now = cx.now();
        let p = &mut self.vrrp[pair as usize];
        let m = member as usize;
        p.state[m] = Vrrp::Master;
        let previous = p.vip_owner.replace(member);
        let node = p.members[m];
        if previous.is_some_and(|x| x != member) {
            let old = p.members[1 - m];
            // Gratuitous ARP moves the VIP: connections held by the old owner are lost.
            if self.state(old).down.is_none() {
                self.lb_drop_client_connections(cx, old);
            }
            self.metrics.takeover(now, old, node);
        }
        if let Some(obs) = self.observer.as_mut() {
            obs.state_changed(now, self.names.name(node), "VRRP MASTER (owns the VIP)");
        }
        cx.schedule_in(SimDuration::ZERO, Ev::VrrpAdvert { pair, member });
    }

    /// A load balancer of a keepalived pair crashed or came back: keepalived dies with its
    /// host; it restarts with it.
    pub(crate) fn pair_member_changed(
        &mut self,
        cx: &mut Context<'_, Ev>,
        node: Node,
        down: bool,
        host: bool,
    ) {
        for pair in 0..self.vrrp.len() {
            let p = &self.vrrp[pair];
            let Some(m) = p.members.iter().position(|x| *x == node) else {
                continue;
            };
            if down {
                if host {
                    self.vrrp[pair].state[m] = Vrrp::Down;
                }
                // A process crash is seen by the master's next script run (advert tick).
            } else {
                // keepalived (re)starts in BACKUP; with preempt a higher priority takes over
                // when its timer runs out, since it discards lower-priority adverts.
                self.vrrp[pair].state[m] = Vrrp::Backup;
                self.arm_master_down(cx, pair as u32, m as u32, None);
            }
        }
    }

    /// Resets every client connection a load balancer holds (its VIP moved away).
    fn lb_drop_client_connections(&mut self, cx: &mut Context<'_, Ev>, lb: Node) {
        let held: Vec<_> = self
            .calls
            .iter()
            .filter(|(_, c)| c.callee == lb && c.caller == Node::Clients && c.connected().is_some())
            .map(|(r, _)| r)
            .collect();
        for r in held {
            self.reset(cx, r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(prio: [u32; 2], version: u32) -> VrrpPair {
        VrrpPair {
            members: [Node::Lb(0), Node::Lb(1)],
            advert_int: SimDuration::from_secs(1),
            priorities: prio,
            version,
            preempt: true,
            vip_owner: None,
            state: [Vrrp::Master, Vrrp::Backup],
            epoch: [0, 0],
        }
    }

    #[test]
    fn master_down_interval_matches_keepalived() {
        // keepalived.conf(5): advert_int 1, priority 128 ⇒ "wait 3.5 seconds".
        let p = pair([150, 128], 2);
        assert_eq!(p.master_down_interval(1), SimDuration::from_millis(3500));
        // Priority 100, v2: 3 + 156/256 s = 3.609375 s.
        let p = pair([150, 100], 2);
        assert_eq!(p.master_down_interval(1).as_nanos(), 3_609_375_000);
        // v3 scales the skew by advert_int.
        let mut p = pair([150, 100], 3);
        p.advert_int = SimDuration::from_millis(500);
        assert_eq!(
            p.master_down_interval(1).as_nanos(),
            1_500_000_000 + 304_687_500
        );
    }
}
