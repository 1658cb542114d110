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

    /// Parses exactly the documented grammar: `<number>/<unit>`, whitespace allowed around
    /// each part. The number is decimal — an optional `-` (validation then reports the
    /// negative rate), digits with an optional fraction (`"800"`, `"1.5"`, `".5"`), an
    /// optional exponent (`"1e6"`) — and is read with Rust's correctly rounded float
    /// parsing; the unit is `ms`, `s`, `m` (or `min`), `h` or `d`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseRateError(s.to_string());
        let (n, unit) = s.trim().split_once('/').ok_or_else(err)?;
        let n = n.trim();
        if !is_decimal(n) {
            return Err(err());
        }
        let n: f64 = n.parse().map_err(|_| err())?;
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

/// `-? (digits (. digits?)? | . digits) ((e|E) (+|-)? digits)?`: a decimal number, without
/// the `+`, `inf` and `NaN` that float parsing would also take.
fn is_decimal(n: &str) -> bool {
    let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n = n.strip_prefix('-').unwrap_or(n);
    let int = digits(n);
    let rest = &n[int..];
    let (frac, rest) = match rest.strip_prefix('.') {
        Some(after) => (digits(after), &after[digits(after)..]),
        None => (0, rest),
    };
    if int == 0 && frac == 0 {
        return false;
    }
    match rest.strip_prefix(['e', 'E']) {
        None => rest.is_empty(),
        Some(exp) => {
            let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !exp.is_empty() && digits(exp) == exp.len()
        }
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
        assert_eq!("1e3/s".parse::<Rate>().unwrap().as_per_second(), 1000.0);
        assert_eq!(
            " 2 / m ".parse::<Rate>().unwrap().as_per_second(),
            2.0 / 60.0
        );
        assert_eq!("-5/s".parse::<Rate>().unwrap().as_per_second(), -5.0);
        for bad in [
            "+5/s", "inf/s", "NaN/s", "1.+5/s", "5./e/s", "1e/s", "0x10/s", "/s",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} parsed");
        }
    }

    /// The documented grammar, written independently as a regular expression.
    fn reference(s: &str) -> Option<f64> {
        let re = regex::Regex::new(
            r"^\s*(?<n>-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*/\s*(?<unit>ms|s|min|m|h|d)\s*$",
        )
        .unwrap();
        let c = re.captures(s)?;
        let unit_secs = match &c["unit"] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => 86400.0,
        };
        let n: f64 = c["n"].parse().ok()?;
        n.is_finite().then_some(n / unit_secs)
    }

    proptest::proptest! {
        /// The parser accepts exactly the documented grammar; random strings built from the
        /// characters and units that matter.
        #[test]
        fn parser_follows_the_documented_grammar(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "0", "1", "8", "00", ".", "+", "-", "e", "E", " ", "/", "ms", "s", "m",
                    "min", "h", "d", "inf", "NaN", "x", "9e999",
                ]),
                0..8,
            )
        ) {
            let s: String = parts.concat();
            let got = s.parse::<Rate>().ok().map(Rate::as_per_second);
            proptest::prop_assert_eq!(got, reference(&s), "{:?}", s);
        }
    }
}
