//! Rates written as `"800/s"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Events per second, written `"<number>/<unit>"` with unit `ms`, `s`, `m`, `h` or `d`
/// (`"800/s"`, `"3/m"`, `"1.5/ms"`).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate {
    per_second: f64,
    /// The text it was written as, so it serializes back unchanged.
    unit_secs: f64,
}

impl Rate {
    /// A rate of `x` per second.
    pub fn per_second(x: f64) -> Self {
        Rate {
            per_second: x,
            unit_secs: 1.0,
        }
    }
    /// Events per second.
    pub fn as_per_second(self) -> f64 {
        self.per_second
    }
}

/// Why a rate did not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "rate {0:?} is not of the form \"<number>/<unit>\" with unit ms, s, m, h or d (e.g. \"800/s\")"
)]
pub struct ParseRateError(String);

impl FromStr for Rate {
    type Err = ParseRateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseRateError(s.to_string());
        let (n, unit) = s.trim().split_once('/').ok_or_else(err)?;
        let n: f64 = n.trim().parse().map_err(|_| err())?;
        let unit_secs = match unit.trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(err()),
        };
        if !n.is_finite() {
            return Err(err());
        }
        Ok(Rate {
            per_second: n / unit_secs,
            unit_secs,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit_secs {
            0.001 => "ms",
            60.0 => "m",
            3600.0 => "h",
            86400.0 => "d",
            _ => "s",
        };
        let unit_secs = if unit == "s" { 1.0 } else { self.unit_secs };
        write!(f, "{}/{}", self.per_second * unit_secs, unit)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate such as \"800/s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Rate, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl schemars::JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\s*[0-9.eE+-]+\\s*/\\s*(ms|s|m|min|h|d)\\s*$",
            "description": "Events per unit of time: \"800/s\", \"3/m\"",
            "examples": ["800/s", "50/m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let r: Rate = "800/s".parse().unwrap();
        assert_eq!(r.as_per_second(), 800.0);
        assert_eq!(r.to_string(), "800/s");
        let r: Rate = "3/m".parse().unwrap();
        assert!((r.as_per_second() - 0.05).abs() < 1e-12);
        assert_eq!(r.to_string(), "3/m");
        assert_eq!("1.5/ms".parse::<Rate>().unwrap().as_per_second(), 1500.0);
        assert!("800".parse::<Rate>().is_err());
        assert!("x/s".parse::<Rate>().is_err());
        assert!("5/fortnight".parse::<Rate>().is_err());
    }
}
