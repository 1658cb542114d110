//! SLO checks: `availability>=0.999`, `write.availability>=0.99`, `p99<=250ms`,
//! `lost_writes==0` — evaluated against a [`Report`], so a CI job can gate on a topology.

use serde::{Deserialize, Serialize};

pub use crate::scenario::check::{Check, Op};

use crate::report::Report;

/// The result of a check against a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check, as text.
    pub check: String,
    /// The report's value (None if the report has no such metric).
    pub actual: Option<f64>,
    /// Whether it holds.
    pub passed: bool,
}

/// Where a short metric name lives in the report's JSON.
fn resolve(metric: &str) -> String {
    const LAT: [&str; 6] = ["mean", "p50", "p90", "p99", "p999", "max"];
    let parts: Vec<&str> = metric.split('.').collect();
    match parts.as_slice() {
        [m] if LAT.contains(m) => format!("latency_ms.{m}"),
        [m] if matches!(
            *m,
            "lost_writes" | "stale_reads" | "read_your_writes_violations" | "failovers"
        ) =>
        {
            format!("database.{m}")
        }
        [c, m] if matches!(*c, "read" | "write" | "static") && LAT.contains(m) => {
            format!("classes.{c}.latency_ms.{m}")
        }
        [c, m] if matches!(*c, "read" | "write" | "static") => format!("classes.{c}.{m}"),
        _ => metric.to_string(),
    }
}

/// Walks a dotted path into JSON; keys may themselves contain dots (the `confidence` map's
/// `latency_ms.p99`), so the longest key present at each level wins.
fn lookup<'a>(v: &'a serde_json::Value, parts: &[&str]) -> Option<&'a serde_json::Value> {
    if parts.is_empty() {
        return Some(v);
    }
    let obj = v.as_object()?;
    (1..=parts.len()).rev().find_map(|k| {
        let key = parts[..k].join(".");
        obj.get(&key).and_then(|next| lookup(next, &parts[k..]))
    })
}

impl Check {
    /// Evaluates the check on a report.
    pub fn evaluate(&self, report: &Report) -> CheckResult {
        let json = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
        let path = resolve(&self.metric);
        let parts: Vec<&str> = path.split('.').collect();
        let actual = lookup(&json, &parts).and_then(serde_json::Value::as_f64);
        CheckResult {
            check: self.to_string(),
            actual,
            passed: actual.is_some_and(|a| self.op.holds(a, self.threshold)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_short_names() {
        assert_eq!(resolve("p99"), "latency_ms.p99");
        assert_eq!(resolve("write.availability"), "classes.write.availability");
        assert_eq!(resolve("read.p99"), "classes.read.latency_ms.p99");
        assert_eq!(resolve("lost_writes"), "database.lost_writes");
        assert_eq!(
            resolve("components.app1.utilization"),
            "components.app1.utilization"
        );
    }

    #[test]
    fn looks_up_keys_containing_dots_and_hyphens() {
        let v = serde_json::json!({
            "confidence": {"latency_ms.p99": {"mean": 3.5}},
            "components": {"db-primary": {"utilization": 0.25}}
        });
        let get = |p: &str| {
            lookup(&v, &p.split('.').collect::<Vec<_>>()).and_then(serde_json::Value::as_f64)
        };
        assert_eq!(get("confidence.latency_ms.p99.mean"), Some(3.5));
        assert_eq!(get("components.db-primary.utilization"), Some(0.25));
        assert_eq!(get("components.nothing.utilization"), None);
        assert!(
            "components.db-primary.utilization<=0.9"
                .parse::<Check>()
                .is_ok()
        );
    }
}
