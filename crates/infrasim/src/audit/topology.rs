//! Single points of failure found on the topology graph, before anything runs.
//!
//! A request of a class travels clients → entry → load balancer → servers → database; each
//! hop may have alternatives. The graph has an arc for every hop a request of the class can
//! take while the redundancy mechanisms work as configured: both members of an LB pair (the
//! VIP moves, or DNS stops answering with a dead member), every backend server of a load
//! balancer, a web server's upstream, the database nodes an app server's calls of that class
//! may reach (replicas, or the primary; a replica for writes only where an automatic
//! failover promotes one). A component — or a link — is a single point of failure for the
//! class when removing it leaves no path from the clients to a node that completes the class.
//! (On such a graph a link is a single point of failure only where one of its ends is, or
//! is the clients: the link to a single entry point is the one that matters most.)
//!
//! A firewall is a device of its own on the hops it filters: while it is down nothing
//! crosses it (`model::firewall`). It is a single point of failure for a class when every
//! path of the class crosses it — a single firewall in front of everything is, a pair of
//! firewalls is not modelled — and is checked, like a component, by the run that crashes it.
//!
//! Redundancy is worth something only when something takes the dead member out of rotation.
//! A load balancer with neither active checks nor `observe` keeps sending each server its
//! share, so a crash fails that share for as long as it lasts: such a server is not a single
//! point of failure, but its expected loss is its weight's share of the backend, not zero.

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::{Bfs, EdgeFiltered, NodeFiltered};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::scenario::security::{ResolvedFirewall, Verdict};
use crate::scenario::{
    Class, Entry, FailoverMode, Node, ReadPolicy, Scenario, Validated, validate,
};

/// What the graph says of one component or link, for one request class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// The component's name, or `a ↔ b` for a link.
    pub element: String,
    /// `load_balancer`, `web_server`, `app_server`, `database primary`, `database replica`,
    /// `firewall` or `link`.
    pub kind: String,
    /// The request class.
    pub class: String,
    /// The share of the class's requests its failure should fail while it lasts: 1 for a
    /// single point of failure, the weight share of a server behind an unguarded load
    /// balancer, 0 for a member whose loss the redundancy covers.
    pub expected_loss: f64,
    /// Why, in words.
    pub reason: String,
    /// For a link, its two ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<[String; 2]>,
}

impl Exposure {
    /// A single point of failure for its class: its failure takes at least half of the class
    /// down (the audit's criterion).
    pub fn is_spof(&self) -> bool {
        self.expected_loss >= 0.5
    }
}

/// A vertex of the request graph: the clients, a component, or the end of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Vertex {
    Clients,
    Component(Node),
    Done,
}

/// The paths of one class's requests.
struct ClassGraph {
    g: DiGraph<Vertex, ()>,
    clients: NodeIndex,
    done: NodeIndex,
    index: Vec<(Node, NodeIndex)>,
}

impl ClassGraph {
    fn vertex(&mut self, n: Node) -> NodeIndex {
        if let Some(&(_, i)) = self.index.iter().find(|(m, _)| *m == n) {
            return i;
        }
        let i = self.g.add_node(Vertex::Component(n));
        self.index.push((n, i));
        i
    }

    fn arc(&mut self, from: Option<Node>, to: Option<Node>) {
        let a = from.map_or(self.clients, |n| self.vertex(n));
        let b = to.map_or(self.done, |n| self.vertex(n));
        if self.g.find_edge(a, b).is_none() {
            self.g.add_edge(a, b, ());
        }
    }

    /// Whether the class still completes with `v` removed.
    fn survives_without(&self, v: NodeIndex) -> bool {
        let g = NodeFiltered::from_fn(&self.g, |n| n != v);
        reaches(&g, self.clients, self.done)
    }

    /// Whether the class still completes with the arc `e` cut.
    fn survives_cut(&self, e: EdgeIndex) -> bool {
        let g = EdgeFiltered::from_fn(&self.g, |r| petgraph::visit::EdgeRef::id(&r) != e);
        reaches(&g, self.clients, self.done)
    }

    /// Whether the class still completes with every arc `cut` says is cut removed.
    fn survives_cuts(&self, cut: impl Fn(Node, Node) -> bool) -> bool {
        let g = EdgeFiltered::from_fn(&self.g, |r| {
            let (a, b) = (
                petgraph::visit::EdgeRef::source(&r),
                petgraph::visit::EdgeRef::target(&r),
            );
            match (self.end(a), self.end(b)) {
                (Some(na), Some(nb)) => !cut(na, nb),
                _ => true,
            }
        });
        reaches(&g, self.clients, self.done)
    }

    /// The component (or the clients) at `x`; `None` for the end of a request.
    fn end(&self, x: NodeIndex) -> Option<Node> {
        match self.g[x] {
            Vertex::Clients => Some(Node::Clients),
            Vertex::Component(n) => Some(n),
            Vertex::Done => None,
        }
    }

    /// The arcs on some complete path, as their two ends (the end of a request left out).
    fn used_arcs(&self) -> Vec<(Node, Node)> {
        let used = self.used();
        self.g
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.g.edge_endpoints(e)?;
                if !used.contains(&a) || !used.contains(&b) {
                    return None;
                }
                Some((self.end(a)?, self.end(b)?))
            })
            .collect()
    }

    /// The vertices that lie on some complete path (reached from the clients and reaching
    /// the end): the components the class uses at all.
    fn used(&self) -> Vec<NodeIndex> {
        let forward = reachable(&self.g, self.clients);
        let mut rev = self.g.clone();
        rev.reverse();
        let backward = reachable(&rev, self.done);
        self.g
            .node_indices()
            .filter(|&i| forward.contains(&i) && backward.contains(&i))
            .collect()
    }
}

fn reachable<G>(g: G, from: NodeIndex) -> Vec<NodeIndex>
where
    G: petgraph::visit::IntoNeighbors<NodeId = NodeIndex> + petgraph::visit::Visitable,
{
    let mut bfs = Bfs::new(g, from);
    let mut out = Vec::new();
    while let Some(n) = bfs.next(g) {
        out.push(n);
    }
    out
}

fn reaches<G>(g: G, from: NodeIndex, to: NodeIndex) -> bool
where
    G: petgraph::visit::IntoNeighbors<NodeId = NodeIndex> + petgraph::visit::Visitable,
{
    reachable(g, from).contains(&to)
}

/// Every component and link each class of `s` depends on, with what its failure should
/// cost that class (classes the mix never offers are skipped). Components first, in the
/// scenario's order (firewalls after the database nodes), then links; within each, by
/// class.
pub fn exposures(s: &Scenario) -> Result<Vec<Exposure>, Error> {
    let v = validate(s)?;
    let mut components = Vec::new();
    let mut links = Vec::new();
    for class in Class::ALL {
        if *s.clients.mix.get(class) <= 0.0 {
            continue;
        }
        let cg = class_graph(&v, class);
        for i in cg.used() {
            let Vertex::Component(n) = cg.g[i] else {
                continue;
            };
            let (expected_loss, reason) = if cg.survives_without(i) {
                unguarded_share(&v, &cg, n).unwrap_or_else(|| (0.0, covered(&v, n, class)))
            } else {
                (1.0, sole(&v, n, class))
            };
            components.push((
                order(n),
                class.index(),
                Exposure {
                    element: v.names.name(n).to_string(),
                    kind: kind(&v, n).to_string(),
                    class: class.name().to_string(),
                    expected_loss,
                    reason,
                    ends: None,
                },
            ));
        }
        for (f, fw) in v.firewalls.iter().enumerate() {
            if let Some(e) = firewall(&v, &cg, f, fw, class) {
                components.push(((6, f as u32), class.index(), e));
            }
        }
        for e in cg.g.edge_indices() {
            let (a, b) = cg.g.edge_endpoints(e).expect("an edge of the graph");
            let (Some(na), Some(nb)) = (cg.end(a), cg.end(b)) else {
                continue;
            };
            if cg.survives_cut(e) {
                continue;
            }
            links.push((
                (order(na), order(nb)),
                class.index(),
                Exposure {
                    element: format!("{} ↔ {}", v.names.name(na), v.names.name(nb)),
                    kind: "link".to_string(),
                    class: class.name().to_string(),
                    expected_loss: 1.0,
                    reason: format!(
                        "every {} request crosses this link: a partition cuts the class",
                        class.name()
                    ),
                    ends: Some([na, nb].map(|n| v.names.name(n).to_string())),
                },
            ));
        }
    }
    components.sort_by_key(|(o, c, _)| (*o, *c));
    links.sort_by_key(|(o, c, _)| (*o, *c));
    Ok(components
        .into_iter()
        .map(|(_, _, e)| e)
        .chain(links.into_iter().map(|(_, _, e)| e))
        .collect())
}

/// What firewall `f` means to `class`: `None` when none of the class's hops crosses it;
/// otherwise a single point of failure when every path crosses it (a firewall is one
/// device: while it is down nothing crosses it, `model::firewall`), redundant when some path
/// avoids it.
fn firewall(
    v: &Validated<'_>,
    cg: &ClassGraph,
    f: usize,
    fw: &ResolvedFirewall,
    class: Class,
) -> Option<Exposure> {
    let spec = &v.scenario.firewalls[f];
    let crosses = |a: Node, b: Node| fw.verdict(a, b, v.ports.port(b)) != Verdict::NotCrossed;
    let zone = |n: Node| fw.zone_name(n, spec);
    let mut crossings: Vec<String> = Vec::new();
    for (a, b) in cg.used_arcs() {
        if crosses(a, b) {
            let c = format!("{} → {}", zone(a), zone(b));
            if !crossings.contains(&c) {
                crossings.push(c);
            }
        }
    }
    if crossings.is_empty() {
        return None;
    }
    let c = class.name();
    let (expected_loss, reason) = if cg.survives_cuts(crosses) {
        // A path avoids it; but a load balancer that nothing tells keeps sending the servers
        // behind it their share.
        match unguarded_behind(v, cg, &crosses) {
            Some((share, lb)) => (
                share,
                format!(
                    "`{lb}` has no health check: it keeps sending the servers behind this firewall their share ({:.0} %) while it is down",
                    share * 100.0
                ),
            ),
            None => (
                0.0,
                format!(
                    "some {c} requests cross it ({}), but a path avoids it and the load balancers' checks take the cut-off servers out",
                    crossings.join(", ")
                ),
            ),
        }
    } else {
        (
            1.0,
            format!(
                "a single firewall: every {c} request crosses it ({}) and nothing replaces it",
                crossings.join(", ")
            ),
        )
    };
    Some(Exposure {
        element: spec.name.clone(),
        kind: "firewall".to_string(),
        class: c.to_string(),
        expected_loss,
        reason,
        ends: None,
    })
}

/// The largest share of its backend's weight that a load balancer without checks (no
/// active check, no `observe`) on the class's path sends across arcs `cut` says are cut,
/// with that load balancer's name.
fn unguarded_behind(
    v: &Validated<'_>,
    cg: &ClassGraph,
    cut: &impl Fn(Node, Node) -> bool,
) -> Option<(f64, String)> {
    let s = v.scenario;
    let mut worst: Option<(f64, String)> = None;
    for (l, servers) in v.backends.iter().enumerate() {
        let lb = &s.load_balancers[l];
        let on_path = cg.index.iter().any(|&(m, _)| m == Node::Lb(l as u32));
        if !on_path || lb.check.enabled || lb.observe.is_some() {
            continue;
        }
        let weight = |pick: &dyn Fn(usize) -> bool| -> u32 {
            lb.servers
                .iter()
                .enumerate()
                .filter(|(i, b)| !b.backup && pick(*i))
                .map(|(_, b)| b.weight)
                .sum()
        };
        let active = weight(&|_| true);
        let behind = weight(&|i| cut(Node::Lb(l as u32), servers[i]));
        if active == 0 || behind == 0 {
            continue;
        }
        let share = f64::from(behind) / f64::from(active);
        if worst.as_ref().is_none_or(|(w, _)| share > *w) {
            worst = Some((share, lb.name.clone()));
        }
    }
    worst
}

/// The request graph of `class`.
fn class_graph(v: &Validated<'_>, class: Class) -> ClassGraph {
    let s = v.scenario;
    let mut g = DiGraph::new();
    let clients = g.add_node(Vertex::Clients);
    let done = g.add_node(Vertex::Done);
    let mut cg = ClassGraph {
        g,
        clients,
        done,
        index: Vec::new(),
    };
    for m in entry_members(v) {
        cg.arc(None, Some(m));
    }
    for (l, servers) in v.backends.iter().enumerate() {
        for &srv in servers {
            cg.arc(Some(Node::Lb(l as u32)), Some(srv));
        }
    }
    for (w, up) in v.upstreams.iter().enumerate() {
        let web = Node::Web(w as u32);
        match up {
            Some(u) if class != Class::Static => cg.arc(Some(web), Some(*u)),
            _ => cg.arc(Some(web), None),
        }
    }
    for (a, spec) in s.app_servers.iter().enumerate() {
        let app = Node::App(a as u32);
        match v.app_clusters[a] {
            Some(c) if *spec.db_calls.get(class) > 0 => {
                for db in db_nodes_for(v, c, class) {
                    cg.arc(Some(app), Some(db));
                }
            }
            _ => cg.arc(Some(app), None),
        }
    }
    for d in 0..v.names.db_count() {
        cg.arc(Some(Node::Db(d)), None);
    }
    cg
}

/// The components the clients send to: their one target, or both members of the LB pair
/// they target (the VIP moves, or DNS answers with either).
pub(super) fn entry_members(v: &Validated<'_>) -> Vec<Node> {
    let s = v.scenario;
    match v.entry {
        Entry::Node(n) => vec![n],
        Entry::Vip(k) | Entry::Dns(k) => {
            let mode = match v.entry {
                Entry::Vip(_) => crate::scenario::PairMode::ActivePassive,
                _ => crate::scenario::PairMode::ActiveActive,
            };
            let i = (0..s.lb_pairs.len())
                .filter(|&i| s.lb_pairs[i].mode == mode)
                .nth(k as usize)
                .expect("validation resolved the pair");
            v.pair_members[i].to_vec()
        }
    }
}

/// The database nodes of cluster `c` that can serve `class`'s queries while the cluster's
/// mechanisms work: the primary for writes (and the replicas, when an automatic failover
/// promotes one); for reads, the replicas and the primary unless reads are pinned to the
/// primary.
fn db_nodes_for(v: &Validated<'_>, c: u32, class: Class) -> Vec<Node> {
    let d = &v.scenario.databases[c as usize];
    let nodes = cluster_nodes(v, c);
    let primary = nodes[0];
    let replicas = nodes[1..].iter().copied();
    let promotes = d.failover.mode == FailoverMode::Automatic;
    let reads_replicas = d.read_routing.policy != ReadPolicy::Primary;
    let mut out = vec![primary];
    if class == Class::Write {
        if promotes {
            out.extend(replicas);
        }
    } else if reads_replicas || promotes {
        out.extend(replicas);
    }
    out
}

/// For a server behind a load balancer that nothing checks (no active check, no `observe`):
/// its weight's share of the backend's traffic, which a crash fails for as long as it lasts.
fn unguarded_share(v: &Validated<'_>, cg: &ClassGraph, n: Node) -> Option<(f64, String)> {
    let (share, lb) = unguarded_behind(v, cg, &|_, b| b == n)?;
    Some((
        share,
        format!(
            "`{lb}` has no health check: it keeps sending this server its share ({:.0} %) while it is down",
            share * 100.0
        ),
    ))
}

/// Why the class survives the loss of `n`.
fn covered(v: &Validated<'_>, n: Node, class: Class) -> String {
    match n {
        Node::Lb(_) => "the other member of its pair takes the traffic".into(),
        Node::Web(_) | Node::App(_) => {
            "its load balancer's checks take it out of rotation; the others serve".into()
        }
        Node::Db(i) if class == Class::Write && is_primary(v, i) => {
            "an automatic failover promotes a replica (after its detection and promotion time)"
                .into()
        }
        Node::Db(_) if class == Class::Write => {
            "a candidate for promotion only: the primary takes the writes".into()
        }
        Node::Db(_) => "reads go to the other copies".into(),
        Node::Clients | Node::Manager(_) => String::new(),
    }
}

/// Why `n` alone carries the class.
fn sole(v: &Validated<'_>, n: Node, class: Class) -> String {
    let c = class.name();
    match n {
        Node::Db(i) if is_primary(v, i) && class == Class::Write => {
            let mode = v
                .scenario
                .databases
                .iter()
                .find(|d| d.primary.name == v.names.name(n))
                .map(|d| d.failover.mode);
            match mode {
                Some(FailoverMode::Manual) => format!(
                    "the only writable node: {c} requests fail until an operator promotes a replica"
                ),
                _ => format!(
                    "the only writable node and no failover: {c} requests fail until it returns"
                ),
            }
        }
        _ => format!("every {c} request goes through it and nothing replaces it"),
    }
}

/// The database nodes of cluster `c`, its primary first (nodes are numbered cluster by
/// cluster, each primary before its replicas).
pub(super) fn cluster_nodes(v: &Validated<'_>, c: u32) -> Vec<Node> {
    let size = |d: &crate::scenario::Database| 1 + d.replicas.len() as u32;
    let dbs = &v.scenario.databases;
    let first: u32 = dbs[..c as usize].iter().map(size).sum();
    (first..first + size(&dbs[c as usize]))
        .map(Node::Db)
        .collect()
}

fn is_primary(v: &Validated<'_>, i: u32) -> bool {
    (0..v.scenario.databases.len() as u32).any(|c| cluster_nodes(v, c)[0] == Node::Db(i))
}

fn kind(v: &Validated<'_>, n: Node) -> &'static str {
    match n {
        Node::Lb(_) => "load_balancer",
        Node::Web(_) => "web_server",
        Node::App(_) => "app_server",
        Node::Db(i) if is_primary(v, i) => "database primary",
        Node::Db(_) => "database replica",
        Node::Clients => "clients",
        Node::Manager(_) => "failover manager",
    }
}

/// The scenario's order: clients, LBs, web, app, database nodes.
fn order(n: Node) -> (u8, u32) {
    match n {
        Node::Clients => (0, 0),
        Node::Lb(i) => (1, i),
        Node::Web(i) => (2, i),
        Node::App(i) => (3, i),
        Node::Db(i) => (4, i),
        Node::Manager(i) => (5, i),
    }
}
