//! A keepalived (VRRP) pair of load balancers in active-passive (keepalived.conf(5); RFC
//! 3768 for VRRP v2, RFC 5798 for v3), following keepalived's own code (vrrp.c,
//! vrrp_scheduler.c, vrrp_track.c):
//!
//! - The master owns the virtual IP and advertises its effective priority every
//!   `advert_int`; a backup whose master-down timer — `3 × advert_int + skew_time`, with
//!   `skew_time = (256 − priority) / 256` s in v2 and `× advert_int` in v3 — expires without
//!   an advertisement it accepts becomes master and sends gratuitous ARPs.
//! - Each node runs the tracked `vrrp_script` (`chk_haproxy`: is the local HAProxy alive?) on
//!   its own timer, with keepalived's `rise`/`fall` counting. With `weight 0`, `fall` failures
//!   put the instance in FAULT: a master resigns with a priority-0 advert and the backup takes
//!   over after `skew_time`. With a weight, the effective priority moves by it and the
//!   election is by priority alone.
//! - A master that hears a lower priority re-advertises and sends gratuitous ARPs (keepalived
//!   `vrrp_state_master_rx`), so after a partition between the two the higher priority gets
//!   the VIP back; one that hears a higher priority steps down.
//! - Client connections held by the node that loses the VIP are dropped: HAProxy does not
//!   synchronise connection state.
//!
//! Where the gateway's ARP cache still points at a node that gave the VIP up (it stepped down
//! without anyone's gratuitous ARP after it), its packets are dropped until the gateway
//! re-resolves the address (Linux neighbour timers, [`ARP_REACHABLE`], [`ARP_PROBES`]).

use infrasim_engine::{Context, SimDuration, SimTime};

use crate::model::World;
use crate::model::vocabulary::{Ev, Msg, Node};
use crate::scenario::{self, VrrpState};

/// keepalived sends a second set of gratuitous ARPs this long after the first, on becoming
/// master and on hearing a lower priority (`vrrp_garp_master_delay` and
/// `vrrp_garp_lower_prio_delay`, both 5 s by default: `VRRP_GARP_DELAY`, vrrp.h;
/// keepalived.conf(5)).
const GARP_DELAY: SimDuration = SimDuration::from_secs(5);

/// How long the gateway keeps using an ARP entry after the last gratuitous ARP that confirmed
/// it: Linux's `base_reachable_time` (30 s; the kernel draws the actual time uniformly from
/// 15–45 s: the model takes the mean). Linux ip-sysctl.rst, `neigh/default`.
const ARP_REACHABLE: SimDuration = SimDuration::from_secs(30);

/// Once the entry is stale, the gateway waits `delay_first_probe_time` (5 s), then sends
/// `ucast_solicit` (3) unicast probes `retrans_time` (1 s) apart to the old address before it
/// asks the whole segment again — and the VIP's holder answers. Linux ip-sysctl.rst.
const ARP_PROBES: SimDuration = SimDuration::from_secs(5 + 3);

/// A VRRP instance's state on one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vrrp {
    /// Holds the VIP and advertises.
    Master,
    /// Listens; becomes master when the master-down timer expires. Holds no VIP.
    Backup,
    /// Its tracked script failed (weight 0), or keepalived is waiting for the script's first
    /// result after starting: neither advertises nor listens.
    Fault,
    /// The host is down, and keepalived with it.
    Down,
}

/// The tracked script on one node, counted as keepalived does (vrrp_scheduler.c
/// `vrrp_script_child_thread`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Script {
    /// keepalived's `result`: 0 … rise + fall − 1, good from `rise` up.
    result: u32,
    /// What the script last reported to the instance; none yet since keepalived started.
    status: Option<bool>,
    /// keepalived's incarnation on the node: a run scheduled by an earlier one is stale.
    epoch: u32,
}

/// A keepalived pair.
pub(crate) struct VrrpPair {
    pub members: [Node; 2],
    pub advert_int: SimDuration,
    /// Configured (base) priorities; [`VrrpPair::priority`] adds the script's weight.
    pub priorities: [u32; 2],
    pub version: u32,
    pub preempt: bool,
    pub preempt_delay: SimDuration,
    pub initial: [VrrpState; 2],
    pub script_spec: scenario::VrrpScript,
    /// The member whose gratuitous ARPs the gateway last heard: where VIP packets go.
    pub vip_owner: Option<u32>,
    /// When the VIP's owner sends (or sent) its last gratuitous ARPs.
    pub garp_at: SimTime,
    /// Generation of the gateway's pending ARP re-resolution (a GARP makes it stale).
    pub arp_epoch: u32,
    pub state: [Vrrp; 2],
    /// Timer generation per member: its advert chain as master, its master-down timer as
    /// backup. A state change makes older timers stale.
    pub epoch: [u32; 2],
    /// When each backup's master-down timer expires, and the length it was last set to
    /// (keepalived `ms_down_timer`).
    pub down_at: [SimTime; 2],
    pub down_timer: [SimDuration; 2],
    /// keepalived `preempt_time`: until when a backup still accepts lower-priority adverts.
    pub preempt_at: [Option<SimTime>; 2],
    pub script: [Script; 2],
}

impl VrrpPair {
    /// A keepalived pair as the scenario describes it, its members resolved; it starts in
    /// [`World::start_vrrp`].
    pub(crate) fn new(spec: &scenario::LbPair, members: [Node; 2]) -> Self {
        let s = &spec.vrrp_script;
        let settled = Script {
            result: s.rise + s.fall - 1,
            status: Some(true),
            epoch: 0,
        };
        VrrpPair {
            members,
            advert_int: spec.advert_int,
            priorities: spec.priorities,
            version: spec.vrrp_version,
            preempt: spec.preempt,
            preempt_delay: spec.preempt_delay,
            initial: spec.initial_states(),
            script_spec: s.clone(),
            vip_owner: None,
            garp_at: SimTime::ZERO,
            arp_epoch: 0,
            state: [Vrrp::Backup, Vrrp::Backup],
            epoch: [0, 0],
            down_at: [SimTime::ZERO; 2],
            down_timer: [SimDuration::ZERO; 2],
            preempt_at: [None, None],
            script: [settled, settled],
        }
    }

    /// Where VIP packets are delivered now: the member the gateway's ARP entry names, unless
    /// it is a BACKUP or in FAULT — keepalived removes the VIP on leaving MASTER
    /// (`vrrp_restore_interface`) and adds it only on becoming MASTER — whose kernel drops
    /// them: the client's SYN is retransmitted (`crate::model::tcp`) and reaches the new
    /// master once it holds the address.
    pub(crate) fn vip(&self) -> Option<Node> {
        let m = self.vip_owner? as usize;
        // A node in BACKUP or FAULT has removed the address: what the gateway still sends it
        // is dropped. A dead host drops it too, as any host that is down.
        matches!(self.state[m], Vrrp::Master | Vrrp::Down).then_some(self.members[m])
    }

    /// Effective priority of `member`: its base priority moved by the script's weight —
    /// down by |weight| while the script fails (negative weight), up by `weight` while it
    /// succeeds (positive) — within 1…254 (vrrp_track.c `process_script_update_priority`,
    /// `vrrp_set_effective_priority`).
    pub(crate) fn priority(&self, member: usize) -> u32 {
        let w = self.script_spec.weight;
        let moved = match self.script[member].status {
            Some(true) if w > 0 => w,
            Some(false) if w < 0 => w,
            _ => 0,
        };
        (self.priorities[member] as i32 + moved).clamp(1, 254) as u32
    }

    /// VRRP skew time of `member` at its effective priority (`VRRP_TIMER_SKEW`).
    pub(crate) fn skew(&self, member: usize) -> SimDuration {
        let p = u64::from(256 - self.priority(member));
        if self.version == 3 {
            SimDuration::from_nanos(self.advert_int.as_nanos() * p / 256)
        } else {
            SimDuration::from_nanos(1_000_000_000 * p / 256)
        }
    }

    /// Makes every timer of `member` scheduled so far stale (its advert chain, its
    /// master-down timer) and returns the generation a new one is scheduled under.
    fn next_epoch(&mut self, member: usize) -> u32 {
        self.epoch[member] = self.epoch[member].wrapping_add(1);
        self.epoch[member]
    }

    /// Whether `member`'s timer scheduled under `epoch` still stands: no later one replaced
    /// it and the member is still in `state`, the state the timer belongs to.
    fn timer_stands(&self, member: usize, epoch: u32, state: Vrrp) -> bool {
        self.epoch[member] == epoch && self.state[member] == state
    }

    /// The VIP's owner sends gratuitous ARPs at `now`, and a second set [`GARP_DELAY`] later:
    /// the gateway's entry is confirmed, so a pending re-resolution of it becomes stale.
    fn gratuitous_arps(&mut self, now: SimTime) {
        self.garp_at = now + GARP_DELAY;
        self.arp_epoch = self.arp_epoch.wrapping_add(1);
    }

    /// Master_Down_Interval = 3 × advert_int + skew_time (`VRRP_MS_DOWN_TIMER`).
    pub(crate) fn master_down_interval(&self, member: usize) -> SimDuration {
        self.advert_int * 3 + self.skew(member)
    }

    /// Which members start as master: those configured `state MASTER`; with none, the one a
    /// cold start elects (the higher priority, ties to the first member's higher address).
    fn settled_masters(&self) -> [bool; 2] {
        let configured = self.initial.map(|s| s == VrrpState::Master);
        if configured.contains(&true) {
            configured
        } else {
            let first = self.priorities[0] >= self.priorities[1];
            [first, !first]
        }
    }

    /// One run of the tracked script on `member`, `ok` when HAProxy is alive: keepalived's
    /// counting (vrrp_scheduler.c `vrrp_script_child_thread`). `fall` failures in a row turn
    /// a good script bad and `rise` successes in a row a bad one good; a success in between
    /// failures (or the reverse) starts the count again. The first run after keepalived
    /// starts reports whatever it finds. Returns the new status when it changed.
    pub(crate) fn script_run(&mut self, member: usize, ok: bool) -> Option<bool> {
        let (rise, fall) = (self.script_spec.rise, self.script_spec.fall);
        let full = rise + fall - 1;
        let s = &mut self.script[member];
        let first = s.status.is_none();
        let mut report = None;
        if ok {
            if s.result + 1 < rise {
                s.result += 1;
            } else if s.result != full {
                if s.result < rise {
                    report = Some(true);
                }
                s.result = full;
            }
        } else if s.result > rise {
            s.result -= 1;
        } else {
            if s.result == rise || first {
                report = Some(false);
            }
            s.result = 0;
        }
        if report.is_some() {
            s.status = report;
        }
        report
    }
}

impl World {
    /// Starts every keepalived pair as settled before the run: the members configured
    /// MASTER (or, with none, the one a cold start elects) hold the VIP and advertise; the
    /// others listen with a fresh master-down timer. Every member's script runs from now on,
    /// every `interval` (its runs are scheduled before the adverts, so when the two periods are
    /// equal a run comes just before the advert due at the same instant).
    pub(crate) fn start_vrrp(&mut self, cx: &mut Context<'_, Ev>) {
        for p in 0..self.vrrp.len() {
            let pair = p as u32;
            for member in 0..2 {
                cx.schedule_in(
                    SimDuration::ZERO,
                    Ev::VrrpScript {
                        pair,
                        member,
                        epoch: 0,
                    },
                );
            }
            let masters = self.vrrp[p].settled_masters();
            self.vrrp[p].vip_owner = masters.iter().position(|m| *m).map(|m| m as u32);
            for (m, master) in masters.into_iter().enumerate() {
                if master {
                    self.vrrp[p].state[m] = Vrrp::Master;
                    self.restart_adverts(cx, pair, m as u32, SimDuration::ZERO);
                } else {
                    self.vrrp[p].state[m] = Vrrp::Backup;
                    self.arm_master_down(cx, pair, m as u32, None);
                }
            }
        }
    }

    /// Sets `member`'s master-down timer to `wait` (default: Master_Down_Interval) from now.
    fn arm_master_down(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        member: u32,
        wait: Option<SimDuration>,
    ) {
        let p = &mut self.vrrp[pair as usize];
        let m = member as usize;
        let d = wait.unwrap_or_else(|| p.master_down_interval(m));
        p.down_timer[m] = d;
        let at = cx.now() + d;
        self.set_master_down(cx, pair, member, at);
    }

    /// (Re)schedules `member`'s master-down expiry at `at`; older timers become stale.
    fn set_master_down(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32, at: SimTime) {
        let p = &mut self.vrrp[pair as usize];
        let m = member as usize;
        let epoch = p.next_epoch(m);
        p.down_at[m] = at;
        cx.schedule_at(
            at,
            Ev::VrrpMasterDown {
                pair,
                member,
                epoch,
            },
        );
    }

    /// Starts `member`'s advert chain afresh, its first advert `after` from now; older
    /// chains become stale. keepalived resets a master's advert timer whenever it sends one
    /// (vrrp_scheduler.c `vrrp_dispatcher_read`, `vrrp_init_instance_sands`).
    fn restart_adverts(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        member: u32,
        after: SimDuration,
    ) {
        let epoch = self.vrrp[pair as usize].next_epoch(member as usize);
        cx.schedule_in(
            after,
            Ev::VrrpAdvert {
                pair,
                member,
                epoch,
            },
        );
    }

    /// Sends `member`'s advertisement of `priority` to the other node.
    fn send_advert(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32, priority: u32) {
        let p = &self.vrrp[pair as usize];
        let (node, other) = (p.members[member as usize], p.members[1 - member as usize]);
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
    }

    /// The master's advertisement timer: advertise the effective priority, then again
    /// `advert_int` later.
    pub(crate) fn vrrp_advert(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        member: u32,
        epoch: u32,
    ) {
        let p = &self.vrrp[pair as usize];
        let m = member as usize;
        if !p.timer_stands(m, epoch, Vrrp::Master) {
            return;
        }
        let (priority, every) = (p.priority(m), p.advert_int);
        self.send_advert(cx, pair, member, priority);
        let next = Ev::VrrpAdvert {
            pair,
            member,
            epoch,
        };
        cx.schedule_in(every, next);
    }

    /// A node receives the other's advertisement. keepalived processes adverts only in
    /// MASTER and BACKUP (vrrp_scheduler.c `vrrp_dispatcher_read`).
    pub(crate) fn vrrp_receive(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        from_member: u32,
        priority: u32,
        _from: Node,
    ) {
        let me = 1 - from_member;
        match self.vrrp[pair as usize].state[me as usize] {
            Vrrp::Backup => self.vrrp_backup_receive(cx, pair, me, priority),
            Vrrp::Master => self.vrrp_master_receive(cx, pair, me, priority),
            Vrrp::Fault | Vrrp::Down => {}
        }
    }

    /// A backup hears the master (vrrp.c `vrrp_state_backup`). Priority 0 (the master
    /// resigned): take over after `skew_time`. An advert it accepts — any with `nopreempt`,
    /// one of priority ≥ its own, or a lower one while `preempt_delay` runs — restarts the
    /// master-down timer; `preempt_delay` starts at the first lower advert heard since the
    /// node started or became backup, and a higher one cancels it. A lower advert after that
    /// is discarded: the timer runs on and the backup preempts when it expires.
    fn vrrp_backup_receive(&mut self, cx: &mut Context<'_, Ev>, pair: u32, me: u32, priority: u32) {
        let now = cx.now();
        let p = &mut self.vrrp[pair as usize];
        let m = me as usize;
        if priority == 0 {
            let skew = p.skew(m);
            self.arm_master_down(cx, pair, me, Some(skew));
            return;
        }
        let mine = p.priority(m);
        let delay = p.preempt_delay;
        let delaying = !delay.is_zero() && p.preempt_at[m].is_none_or(|t| t > now);
        if p.preempt && priority < mine && !delaying {
            return;
        }
        if !delay.is_zero() {
            if priority >= mine {
                p.preempt_at[m] = None;
            } else if p.preempt_at[m].is_none() {
                p.preempt_at[m] = Some(now + delay);
            }
        }
        self.arm_master_down(cx, pair, me, None);
    }

    /// A master hears the other node (vrrp.c `vrrp_state_master_rx`). Priority 0, or a lower
    /// priority — or an equal one from the lower primary address (here the second member's) —
    /// and it re-advertises at once; on a lower priority it also sends gratuitous ARPs
    /// (`garp_lower_prio_repeat`, by default `vrrp_garp_master_repeat`'s 5), taking the VIP
    /// back from a node that claimed it while the two could not hear each other. A higher
    /// priority (or an equal one from the higher address) and it steps down to BACKUP.
    fn vrrp_master_receive(&mut self, cx: &mut Context<'_, Ev>, pair: u32, me: u32, priority: u32) {
        let p = &self.vrrp[pair as usize];
        let mine = p.priority(me as usize);
        let lower = priority < mine || (priority == mine && me == 0);
        if priority == 0 || lower {
            self.send_advert(cx, pair, me, mine);
            let every = self.vrrp[pair as usize].advert_int;
            self.restart_adverts(cx, pair, me, every);
            if priority != 0 {
                self.claim_vip(cx, pair, me);
            }
            return;
        }
        self.step_down(cx, pair, me);
    }

    /// A master leaves MASTER for BACKUP (vrrp.c `vrrp_state_leave_master`): it removes the
    /// VIP, sends no advert (`vrrp_higher_prio_send_advert` is off by default), clears its
    /// preempt delay and starts its master-down timer. If the gateway still sends the VIP's
    /// packets here, they are lost until it re-resolves the address.
    fn step_down(&mut self, cx: &mut Context<'_, Ev>, pair: u32, me: u32) {
        let now = cx.now();
        let p = &mut self.vrrp[pair as usize];
        let m = me as usize;
        p.state[m] = Vrrp::Backup;
        p.preempt_at[m] = None;
        if p.vip_owner == Some(me) {
            // Its pending second set of gratuitous ARPs is not sent without the VIP
            // (vrrp.c `vrrp_send_link_update`).
            p.garp_at = p.garp_at.min(now);
            self.schedule_arp_resolution(cx, pair);
        }
        self.arm_master_down(cx, pair, me, None);
        self.vrrp_changed(now, pair, me, "VRRP BACKUP");
    }

    /// The gateway's ARP entry for the VIP names a node without it: it re-resolves the
    /// address once the entry has gone stale ([`ARP_REACHABLE`] after the last gratuitous
    /// ARP) and its unicast probes have failed ([`ARP_PROBES`]).
    fn schedule_arp_resolution(&mut self, cx: &mut Context<'_, Ev>, pair: u32) {
        let now = cx.now();
        let p = &mut self.vrrp[pair as usize];
        p.arp_epoch = p.arp_epoch.wrapping_add(1);
        let stale = (p.garp_at + ARP_REACHABLE).max(now);
        let epoch = p.arp_epoch;
        cx.schedule_at(stale + ARP_PROBES, Ev::VrrpArp { pair, epoch });
    }

    /// The gateway re-resolves the VIP: the node holding it (a MASTER) answers, and VIP
    /// packets go there from now on.
    pub(crate) fn vrrp_arp_resolved(&mut self, cx: &mut Context<'_, Ev>, pair: u32, epoch: u32) {
        let p = &self.vrrp[pair as usize];
        if p.arp_epoch != epoch {
            return;
        }
        let holder = (0..2u32).find(|m| p.state[*m as usize] == Vrrp::Master);
        if let Some(m) = holder.filter(|m| p.vip_owner != Some(*m)) {
            self.move_vip(
                cx,
                pair,
                m,
                "VRRP MASTER reached again (gateway ARP re-resolved)",
            );
        }
    }

    /// `member` sends gratuitous ARPs for the VIP (now and a second set [`GARP_DELAY`]
    /// later): the gateway sends the VIP's packets to it from now on.
    fn claim_vip(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32) {
        let now = cx.now();
        let p = &mut self.vrrp[pair as usize];
        p.gratuitous_arps(now);
        if p.vip_owner != Some(member) {
            self.move_vip(cx, pair, member, "VRRP MASTER (reclaims the VIP)");
        }
    }

    /// VIP packets now go to `member`: connections the old owner held through the VIP are
    /// reset (the new owner has no state for them); the move is recorded as a takeover.
    fn move_vip(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32, what: &str) {
        let now = cx.now();
        let p = &mut self.vrrp[pair as usize];
        let previous = p.vip_owner.replace(member);
        let node = p.members[member as usize];
        let old = previous.map(|x| p.members[x as usize]);
        if let Some(old) = old {
            if self.state(old).down.is_none() {
                self.lb_drop_client_connections(cx, old);
            }
            self.metrics.takeover(now, old, node);
        }
        self.vrrp_changed(now, pair, member, what);
    }

    /// Tells the observer about a keepalived state change of `member`.
    fn vrrp_changed(&mut self, now: SimTime, pair: u32, member: u32, what: &str) {
        let node = self.vrrp[pair as usize].members[member as usize];
        if let Some(obs) = self.observer.as_mut() {
            obs.state_changed(now, self.names.name(node), what);
        }
    }

    /// `member`'s master-down timer expires: a backup that heard no advert it accepts in time
    /// becomes master.
    pub(crate) fn vrrp_master_down(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        member: u32,
        epoch: u32,
    ) {
        if self.vrrp[pair as usize].timer_stands(member as usize, epoch, Vrrp::Backup) {
            self.become_master(cx, pair, member);
        }
    }

    /// A backup becomes master (vrrp.c `vrrp_state_master_tx`, `vrrp_state_become_master`):
    /// it advertises, adds the VIP and sends gratuitous ARPs.
    fn become_master(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32) {
        let now = cx.now();
        self.vrrp[pair as usize].state[member as usize] = Vrrp::Master;
        self.restart_adverts(cx, pair, member, SimDuration::ZERO);
        let p = &mut self.vrrp[pair as usize];
        p.gratuitous_arps(now);
        if p.vip_owner == Some(member) {
            self.vrrp_changed(now, pair, member, "VRRP MASTER (owns the VIP)");
        } else {
            self.move_vip(cx, pair, member, "VRRP MASTER (owns the VIP)");
        }
    }

    /// The tracked script's timer on `member`: run it (HAProxy alive?), then again after
    /// `interval`. Runs stop with keepalived (host down) and restart with it.
    pub(crate) fn vrrp_script(
        &mut self,
        cx: &mut Context<'_, Ev>,
        pair: u32,
        member: u32,
        epoch: u32,
    ) {
        let p = &self.vrrp[pair as usize];
        let m = member as usize;
        if p.script[m].epoch != epoch || p.state[m] == Vrrp::Down {
            return;
        }
        let ok = self.state(p.members[m]).down.is_none();
        let every = p.script_spec.interval;
        let next = Ev::VrrpScript {
            pair,
            member,
            epoch,
        };
        cx.schedule_in(every, next);
        if let Some(status) = self.vrrp[pair as usize].script_run(m, ok) {
            self.vrrp_script_changed(cx, pair, member, status);
        }
    }

    /// The script's status changed on `member` (vrrp_track.c
    /// `process_script_update_priority`). Weight 0: a failure puts the instance in FAULT
    /// (`down_instance`), a success brings it back as BACKUP (`try_up_instance`). Otherwise
    /// the effective priority moved: a master advertises it from its next advert; a backup's
    /// running timer moves by the change of its master-down interval
    /// (`vrrp_set_effective_priority`).
    fn vrrp_script_changed(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32, ok: bool) {
        let p = &self.vrrp[pair as usize];
        let m = member as usize;
        if p.script_spec.weight == 0 {
            match (ok, p.state[m]) {
                (false, Vrrp::Master | Vrrp::Backup) => self.enter_fault(cx, pair, member),
                (true, Vrrp::Fault) => self.leave_fault(cx, pair, member),
                _ => {}
            }
            return;
        }
        if p.state[m] == Vrrp::Backup {
            let (old, new) = (p.down_timer[m], p.master_down_interval(m));
            let shifted = p.down_at[m].as_nanos() + new.as_nanos();
            let at = SimTime::from_nanos(shifted.saturating_sub(old.as_nanos())).max(cx.now());
            self.vrrp[pair as usize].down_timer[m] = new;
            self.set_master_down(cx, pair, member, at);
        }
    }

    /// FAULT (vrrp_track.c `down_instance`): a master resigns with a priority-0 advert and
    /// gives the VIP up (vrrp.c `vrrp_state_leave_master`); a backup stops listening.
    fn enter_fault(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32) {
        let m = member as usize;
        let was_master = self.vrrp[pair as usize].state[m] == Vrrp::Master;
        let p = &mut self.vrrp[pair as usize];
        p.state[m] = Vrrp::Fault;
        p.next_epoch(m);
        if was_master {
            self.send_advert(cx, pair, member, 0);
        }
        self.vrrp_changed(cx.now(), pair, member, "VRRP FAULT (chk_haproxy failed)");
    }

    /// Out of FAULT (vrrp_scheduler.c `try_up_instance`, vrrp.c `vrrp_state_leave_fault`): a
    /// BACKUP with a fresh master-down timer and no preempt delay running.
    fn leave_fault(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32) {
        let p = &mut self.vrrp[pair as usize];
        p.state[member as usize] = Vrrp::Backup;
        p.preempt_at[member as usize] = None;
        self.arm_master_down(cx, pair, member, None);
        self.vrrp_changed(cx.now(), pair, member, "VRRP BACKUP");
    }

    /// A load balancer of a keepalived pair crashed or came back. A process crash leaves
    /// keepalived running: its script notices. A host crash takes keepalived down; when the
    /// host returns keepalived starts (vrrp_scheduler.c `vrrp_init_state`): BACKUP with a
    /// whole master-down timer whatever its configured `state` (only an address owner,
    /// priority 255, or a sync-group member starts sooner) — with a weight-0 script, in FAULT
    /// until the script's first run, which comes at once (`vrrp_init_script`).
    pub(crate) fn pair_member_changed(
        &mut self,
        cx: &mut Context<'_, Ev>,
        node: Node,
        down: bool,
        host: bool,
    ) {
        for pair in 0..self.vrrp.len() {
            let Some(m) = self.vrrp[pair].members.iter().position(|x| *x == node) else {
                continue;
            };
            let p = &mut self.vrrp[pair];
            if down && host {
                p.state[m] = Vrrp::Down;
                p.next_epoch(m);
                p.script[m].epoch = p.script[m].epoch.wrapping_add(1);
            } else if !down && p.state[m] == Vrrp::Down {
                self.keepalived_start(cx, pair as u32, m as u32);
            }
        }
    }

    /// keepalived starts on `member`'s host: the script in its initial state (one result
    /// decides), no preempt delay running.
    fn keepalived_start(&mut self, cx: &mut Context<'_, Ev>, pair: u32, member: u32) {
        let p = &mut self.vrrp[pair as usize];
        let m = member as usize;
        let rise = p.script_spec.rise;
        let s = &mut p.script[m];
        s.epoch = s.epoch.wrapping_add(1);
        s.result = rise - 1;
        s.status = None;
        let epoch = s.epoch;
        p.preempt_at[m] = None;
        cx.schedule_in(
            SimDuration::ZERO,
            Ev::VrrpScript {
                pair,
                member,
                epoch,
            },
        );
        if p.script_spec.weight == 0 {
            p.state[m] = Vrrp::Fault;
            p.next_epoch(m);
        } else {
            p.state[m] = Vrrp::Backup;
            self.arm_master_down(cx, pair, member, None);
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
        if let Node::Lb(i) = lb {
            self.lb_conn_lost(i, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(prio: [u32; 2], version: u32) -> VrrpPair {
        let mut spec = scenario::LbPair::active_passive("vip", "lb1", "lb2");
        spec.priorities = prio;
        spec.vrrp_version = version;
        VrrpPair::new(&spec, [Node::Lb(0), Node::Lb(1)])
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

    /// keepalived's script counting: `fall` failures in a row to fail, `rise` successes in a
    /// row to recover, a contrary result in between starts over; the first run after a start
    /// reports what it finds.
    #[test]
    fn script_counts_rise_and_fall_like_keepalived() {
        let mut p = pair([150, 100], 2);
        p.script_spec.rise = 2;
        p.script_spec.fall = 3;
        p.script[0].result = 4;
        // Two failures, a success: nothing reported, the count starts over.
        assert_eq!(p.script_run(0, false), None);
        assert_eq!(p.script_run(0, false), None);
        assert_eq!(p.script_run(0, true), None);
        assert_eq!(p.script_run(0, false), None);
        assert_eq!(p.script_run(0, false), None);
        assert_eq!(
            p.script_run(0, false),
            Some(false),
            "third failure in a row"
        );
        assert_eq!(p.script_run(0, false), None);
        assert_eq!(p.script_run(0, true), None);
        assert_eq!(
            p.script_run(0, false),
            None,
            "a failure resets the rise count"
        );
        assert_eq!(p.script_run(0, true), None);
        assert_eq!(p.script_run(0, true), Some(true), "second success in a row");
        // After a start: one result decides, either way.
        for ok in [true, false] {
            p.script[0].status = None;
            p.script[0].result = 1;
            assert_eq!(p.script_run(0, ok), Some(ok));
        }
    }

    /// The effective priority: base ± weight as the script stands, within 1…254.
    #[test]
    fn weights_move_the_effective_priority() {
        let mut p = pair([150, 100], 2);
        p.script_spec.weight = -60;
        assert_eq!(
            p.priority(0),
            150,
            "a good script leaves a negative weight out"
        );
        p.script[0].status = Some(false);
        assert_eq!(p.priority(0), 90);
        p.script_spec.weight = -253;
        assert_eq!(p.priority(0), 1, "never below 1");
        p.script_spec.weight = 200;
        assert_eq!(
            p.priority(0),
            150,
            "a failed script leaves a positive weight out"
        );
        p.script[0].status = Some(true);
        assert_eq!(p.priority(0), 254, "never above 254");
        p.script[0].status = None;
        assert_eq!(p.priority(0), 150, "no weight before the first result");
        // The skew follows the effective priority.
        p.script_spec.weight = 60;
        p.script[1].status = Some(true);
        assert_eq!(p.skew(1), SimDuration::from_nanos(1_000_000_000 * 96 / 256));
    }
}
