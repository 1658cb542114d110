//! SLO checks: `availability>=0.999`, `write.availability>=0.99`, `p99<=250ms`,
//! `lost_writes==0` — evaluated against a [`Report`], so a CI job can gate on a topology.

use std::fmt;
use std::str::FromStr;

use infrasim_engine::SimDuration;
use serde::{Deserialize, Serialize};

use crate::report::Report;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Ge => a >= b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Lt => a < b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// One SLO assertion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The metric as written (`write.availability`, `p99`).
    pub metric: String,
    /// The comparison.
    pub op: Op,
    /// The threshold, in the metric's unit (latencies in milliseconds).
    pub threshold: f64,
}

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

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.metric, self.op.symbol(), self.threshold)
    }
}

impl FromStr for Check {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let ops = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let (pos, sym, op) = ops
            .iter()
            .filter_map(|(sym, op)| s.find(sym).map(|p| (p, *sym, *op)))
            .min_by_key(|(p, sym, _)| (*p, std::cmp::Reverse(sym.len())))
            .ok_or_else(|| "no comparison operator (one of >=, <=, ==, !=, >, <)".to_string())?;
        let metric = s[..pos].trim();
        let value = s[pos + sym.len()..].trim();
        if metric.is_empty() {
            return Err("no metric before the operator".into());
        }
        if !metric
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(format!(
                "metric {metric:?} has characters other than letters, digits, '_', '-' and '.'"
            ));
        }
        let threshold = if let Ok(x) = value.parse::<f64>() {
            x
        } else if let Ok(d) = value.parse::<SimDuration>() {
            d.as_millis_f64()
        } else if let Some(p) = value.strip_suffix('%') {
            p.trim()
                .parse::<f64>()
                .map_err(|_| format!("threshold {value:?} is not a number"))?
                / 100.0
        } else {
            return Err(format!(
                "threshold {value:?} is not a number, a percentage or a duration such as 250ms"
            ));
        };
        if !threshold.is_finite() {
            return Err(format!("threshold {value:?} is not finite"));
        }
        Ok(Check {
            metric: metric.to_string(),
            op,
            threshold,
        })
    }
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
    fn parses_checks() {
        let c: Check = "availability>=0.999".parse().unwrap();
        assert_eq!(
            (c.metric.as_str(), c.op, c.threshold),
            ("availability", Op::Ge, 0.999)
        );
        let c: Check = "p99 <= 250ms".parse().unwrap();
        assert_eq!((c.op, c.threshold), (Op::Le, 250.0));
        let c: Check = "write.availability>=99%".parse().unwrap();
        assert!((c.threshold - 0.99).abs() < 1e-12);
        let c: Check = "lost_writes==0".parse().unwrap();
        assert_eq!(c.op, Op::Eq);
        assert!("availability".parse::<Check>().is_err());
        assert!(">=1".parse::<Check>().is_err());
        assert!("p99<=fast".parse::<Check>().is_err());
    }

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
