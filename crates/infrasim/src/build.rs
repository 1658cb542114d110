//! Builds a runnable [`World`] from a [`Validated`] scenario: each component constructs itself
//! from its spec and the references validation resolved, drawing its random numbers from
//! streams keyed by (seed, its own name), so adding a component leaves the others' draws
//! unchanged. Nothing here can fail: validation already found every problem.

use std::collections::BTreeMap;

use infrasim_engine::RngStreams;

use crate::model::client::Clients;
use crate::model::database::{Cluster, DbNode};
use crate::model::dns::DnsPair;
use crate::model::fault::{self, FaultState};
use crate::model::firewall::Firewalls;
use crate::model::load_balancer::LoadBalancer;
use crate::model::load_balancer::tls::LbTls;
use crate::model::monitoring::Ops;
use crate::model::network::Network;
use crate::model::server::{AppServer, WebServer};
use crate::model::vrrp::VrrpPair;
use crate::model::{Components, World};
use crate::scenario::{PairMode, Validated};

/// The world of one replication, its random streams derived from `seed`.
pub(crate) fn build(v: &Validated<'_>, seed: u64) -> World {
    let s = v.scenario;
    let streams = RngStreams::new(seed);
    let lbs = s
        .load_balancers
        .iter()
        .zip(&v.backends)
        .map(|(spec, servers)| {
            let mut lb = LoadBalancer::new(spec, servers, &streams);
            lb.tls = spec
                .tls
                .as_ref()
                .map(|t| LbTls::new(t, s.clients.addresses));
            lb
        })
        .collect();
    let (mut vrrp, mut dns) = (Vec::new(), Vec::new());
    for (spec, &members) in s.lb_pairs.iter().zip(&v.pair_members) {
        match spec.mode {
            PairMode::ActivePassive => vrrp.push(VrrpPair::new(spec, members)),
            PairMode::ActiveActive => dns.push(DnsPair::new(spec, members)),
        }
    }
    let webs = s
        .web_servers
        .iter()
        .zip(&v.upstreams)
        .map(|(spec, &upstream)| WebServer::new(spec, upstream, &streams))
        .collect();
    let apps = s
        .app_servers
        .iter()
        .zip(&v.app_clusters)
        .map(|(spec, &cluster)| AppServer::new(spec, cluster, &streams))
        .collect();
    let (clusters, dbs) = databases(v, &streams);
    let mut ordinals: BTreeMap<String, u32> = BTreeMap::new();
    let faults = s
        .faults
        .iter()
        .zip(&v.fault_targets)
        .map(|(spec, &target)| {
            let ordinal = ordinals.entry(fault::stream_key(spec)).or_insert(0);
            *ordinal += 1;
            FaultState::new(spec, target, *ordinal - 1, &streams)
        })
        .collect();
    let net = Network::of(&s.network, &v.names, &v.links, &streams);
    let warmup_end = infrasim_engine::SimTime::ZERO.saturating_add(s.warmup);
    let firewalls = Firewalls::new(
        &s.firewalls,
        &v.firewalls,
        &v.ports,
        net.nodes(),
        warmup_end,
    );
    let net = net.with_firewalls(firewalls);
    let attacks =
        crate::model::attack::Attacks::new(&s.attacks, &v.attacks, s, net.nodes().len(), &streams);
    World::new(
        Components {
            clients: Clients::new(&s.clients, v.entry, &s.faults, &streams),
            conns: s
                .clients
                .connections
                .as_ref()
                .map(|c| crate::model::connection::Pool::new(c, s.clients.addresses)),
            lbs,
            vrrp,
            dns,
            webs,
            apps,
            dbs,
            clusters,
            net,
            attacks,
            faults,
            names: v.names.clone(),
            work_key: streams.key("clients/work"),
            ops: s
                .monitoring
                .as_ref()
                .zip(v.watched.as_ref())
                .map(|(m, w)| Ops::new(m, w, &v.names, &streams)),
        },
        s.warmup,
        s.duration,
        s.window,
        s.window_threshold,
    )
}

/// Every database cluster and its nodes, the nodes numbered across clusters.
fn databases(v: &Validated<'_>, streams: &RngStreams) -> (Vec<Cluster>, Vec<DbNode>) {
    let s = v.scenario;
    let mut clusters = Vec::with_capacity(s.databases.len());
    let mut dbs = Vec::new();
    for (i, spec) in s.databases.iter().enumerate() {
        let (cluster, nodes) = Cluster::new(spec, i as u32, dbs.len() as u32, &s.clients, streams);
        clusters.push(cluster);
        dbs.extend(nodes);
    }
    (clusters, dbs)
}
