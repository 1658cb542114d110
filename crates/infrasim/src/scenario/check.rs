//! SLO expressions as a scenario (or `--check`) writes them: `availability>=0.999`,
//! `write.availability>=99%`, `p99<=250ms`, `lost_writes==0`. Parsing only; evaluating a
//! check against a report is [`crate::slo`]'s.

use std::fmt;
use std::str::FromStr;

use infrasim_engine::SimDuration;
use serde::{Deserialize, Serialize};

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
    /// Whether `a op b` holds.
    pub fn holds(self, a: f64, b: f64) -> bool {
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
}
