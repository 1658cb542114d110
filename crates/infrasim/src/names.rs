//! Component names by node, resolved once at build time.

use std::collections::BTreeMap;

use crate::world::Node;

/// Names of the components, both ways.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    by_name: BTreeMap<String, Node>,
    pub lb: Vec<String>,
    pub web: Vec<String>,
    pub app: Vec<String>,
    pub db: Vec<String>,
}

impl Names {
    pub(crate) fn add(&mut self, name: &str, node: Node) {
        self.by_name.insert(name.to_string(), node);
        let list = match node {
            Node::Lb(_) => &mut self.lb,
            Node::Web(_) => &mut self.web,
            Node::App(_) => &mut self.app,
            Node::Db(_) => &mut self.db,
            Node::Clients => return,
        };
        list.push(name.to_string());
    }

    pub(crate) fn node(&self, name: &str) -> Option<Node> {
        if name == "clients" {
            return Some(Node::Clients);
        }
        self.by_name.get(name).copied()
    }

    pub(crate) fn name(&self, node: Node) -> &str {
        match node {
            Node::Clients => "clients",
            Node::Lb(i) => &self.lb[i as usize],
            Node::Web(i) => &self.web[i as usize],
            Node::App(i) => &self.app[i as usize],
            Node::Db(i) => &self.db[i as usize],
        }
    }
}
