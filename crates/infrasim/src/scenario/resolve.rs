//! What validation resolved: every name a scenario uses, turned into the component it names.
//!
//! A scenario refers to components by name (a backend's servers, a web server's upstream,
//! a fault's target, the clients' entry point). Validation checks every reference once and
//! hands back a [`Validated`] scenario holding each reference as a [`Node`] (a component by
//! kind and index), so that building the model has nothing left to look up and no error
//! path of its own: a `Validated` exists only for a scenario with no problem.

use super::{PairMode, Scenario};

/// A component, by kind and index in its list of the scenario. `Clients` stands for the
/// whole client population (one network location: "the internet"); database nodes are
/// numbered across every cluster, each cluster's primary first, then its replicas, in file
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Node {
    /// The clients.
    Clients,
    /// Load balancer `i`.
    Lb(u32),
    /// Web server `i`.
    Web(u32),
    /// App server `i`.
    App(u32),
    /// Database node `i`.
    Db(u32),
    /// The failover manager of database cluster `i` (its host, a network endpoint: not a
    /// component that serves requests).
    Manager(u32),
}

/// The components' names, by kind and index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    pub lb: Vec<String>,
    pub web: Vec<String>,
    pub app: Vec<String>,
    pub db: Vec<String>,
    /// Each cluster's failover manager: `failover.manager`, or `<cluster>/manager` when
    /// unnamed (then no scenario reference can name it).
    pub manager: Vec<String>,
}

impl Names {
    /// Every component of `s` (groups — LB pairs, database clusters — are not components).
    pub(crate) fn of(s: &Scenario) -> Names {
        let mut names = Names::default();
        for (i, lb) in s.load_balancers.iter().enumerate() {
            names.add(&lb.name, Node::Lb(i as u32));
        }
        for (i, w) in s.web_servers.iter().enumerate() {
            names.add(&w.name, Node::Web(i as u32));
        }
        for (i, a) in s.app_servers.iter().enumerate() {
            names.add(&a.name, Node::App(i as u32));
        }
        let db_nodes = s
            .databases
            .iter()
            .flat_map(|d| std::iter::once(&d.primary).chain(&d.replicas));
        for (i, n) in db_nodes.enumerate() {
            names.add(&n.name, Node::Db(i as u32));
        }
        for (i, d) in s.databases.iter().enumerate() {
            let name = d.failover.manager.clone();
            let name = name.unwrap_or_else(|| format!("{}/manager", d.name));
            names.add(&name, Node::Manager(i as u32));
        }
        names
    }

    fn add(&mut self, name: &str, node: Node) {
        let list = match node {
            Node::Lb(_) => &mut self.lb,
            Node::Web(_) => &mut self.web,
            Node::App(_) => &mut self.app,
            Node::Db(_) => &mut self.db,
            Node::Manager(_) => &mut self.manager,
            Node::Clients => return,
        };
        list.push(name.to_string());
    }

    /// The name of a component.
    pub(crate) fn name(&self, node: Node) -> &str {
        match node {
            Node::Clients => "clients",
            Node::Lb(i) => &self.lb[i as usize],
            Node::Web(i) => &self.web[i as usize],
            Node::App(i) => &self.app[i as usize],
            Node::Db(i) => &self.db[i as usize],
            Node::Manager(i) => &self.manager[i as usize],
        }
    }

    /// How many database nodes, across every cluster.
    pub(crate) fn db_count(&self) -> u32 {
        self.db.len() as u32
    }
}

/// Where client requests enter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A component's own address.
    Node(Node),
    /// The virtual IP of keepalived pair `i` (the `i`-th active-passive pair).
    Vip(u32),
    /// The DNS record of active-active pair `i` (the `i`-th active-active pair).
    Dns(u32),
}

impl Entry {
    /// The entry of `s.lb_pairs[i]`: pairs are numbered within their mode, in file order.
    pub(crate) fn pair(s: &Scenario, i: usize) -> Entry {
        let mode = s.lb_pairs[i].mode;
        let k = s.lb_pairs[..i].iter().filter(|p| p.mode == mode).count() as u32;
        match mode {
            PairMode::ActivePassive => Entry::Vip(k),
            PairMode::ActiveActive => Entry::Dns(k),
        }
    }
}

/// What a fault acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultTarget {
    /// A component (crash, random failures, gray failure, drain).
    Node(Node),
    /// The link between two components (partition, link degrade).
    Link(Node, Node),
    /// The workload (a load spike).
    Clients,
    /// A server of one load balancer's backend (set weight).
    Backend { lb: u32, server: Node },
    /// A firewall (crash).
    Firewall(u32),
}

/// A scenario that validation accepted, with every reference resolved: what building the
/// model consumes. Obtained only from [`super::validate()`].
#[derive(Debug)]
pub struct Validated<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) names: Names,
    /// Where the clients send their requests.
    pub(crate) entry: Entry,
    /// Each load balancer's backend servers, in its `servers` order.
    pub(crate) backends: Vec<Vec<Node>>,
    /// Each LB pair's two members.
    pub(crate) pair_members: Vec<[Node; 2]>,
    /// Each web server's upstream.
    pub(crate) upstreams: Vec<Option<Node>>,
    /// The database cluster each app server calls.
    pub(crate) app_clusters: Vec<Option<u32>>,
    /// The ends of each `network.links` entry.
    pub(crate) links: Vec<(Node, Node)>,
    /// What each fault acts on.
    pub(crate) fault_targets: Vec<FaultTarget>,
    /// What the monitoring watches, if the scenario has a `monitoring` section.
    pub(crate) watched: Option<Watched>,
    /// Each firewall's zones and rules.
    pub(crate) firewalls: Vec<super::security::ResolvedFirewall>,
    /// The port each component listens on (`tls` and re-encryption considered).
    pub(crate) ports: super::security::Ports,
    /// Each attack's target.
    pub(crate) attacks: Vec<super::security::ResolvedAttack>,
}

/// What the monitoring section's references resolved to.
#[derive(Clone, Debug, Default)]
pub(crate) struct Watched {
    /// Per Prometheus rule, in file order: the components it watches (`target_down`: its
    /// targets; a scoped error-ratio or latency rule: its server; `lb_servers_up`: its load
    /// balancer; `replication_lag`: every database node; service scope: none).
    pub rules: Vec<Vec<Node>>,
    /// The components Nagios checks.
    pub nagios: Vec<Node>,
}

impl Validated<'_> {
    /// The scenario as written.
    pub fn scenario(&self) -> &Scenario {
        self.scenario
    }
}
