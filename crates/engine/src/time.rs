//! Simulated time: integer nanoseconds, never floats.
//!
//! Why integers: a float clock loses resolution as time grows (at 30 simulated days an `f64`
//! in seconds resolves only ~0.5 µs) and makes event ordering depend on rounding, which breaks
//! byte-identical reproducibility across machines. A `u64` of nanoseconds covers 584 years.
//!
//! Human durations (`"250us"`, `"20ms"`, `"2s"`, `"5m"`, `"1h"`, `"30d"`) parse into
//! [`SimDuration`] and format back in the largest unit that represents them exactly.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nanoseconds per unit, for the units a duration string may use.
const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;
const NS_PER_MIN: u64 = 60 * NS_PER_S;
const NS_PER_H: u64 = 60 * NS_PER_MIN;
const NS_PER_D: u64 = 24 * NS_PER_H;

/// Units in the order [`SimDuration`]'s `Display` tries them: the largest exact one wins.
const UNITS: [(&str, u64); 7] = [
    ("d", NS_PER_D),
    ("h", NS_PER_H),
    ("m", NS_PER_MIN),
    ("s", NS_PER_S),
    ("ms", NS_PER_MS),
    ("us", NS_PER_US),
    ("ns", 1),
];

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable instant (used as "never").
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// An instant `ns` nanoseconds after the start.
    #[inline]
    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }

    /// Nanoseconds since the start.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start, as a float (for reports only; never feed it back into time).
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// Time elapsed since `earlier`; zero if `earlier` is later (saturating, never panics).
    #[inline]
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// This instant plus `d`, saturating at [`SimTime::MAX`].
    #[inline]
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The largest representable duration.
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A duration of `ns` nanoseconds.
    #[inline]
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    /// A duration of `us` microseconds.
    #[inline]
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * NS_PER_US)
    }
    /// A duration of `ms` milliseconds.
    #[inline]
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * NS_PER_MS)
    }
    /// A duration of `s` seconds.
    #[inline]
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NS_PER_S)
    }

    /// A duration from float seconds, rounded to the nearest nanosecond. Negative and NaN
    /// inputs give zero; values beyond the range saturate. Used where a sampled real number
    /// (a distribution draw) becomes a time: the one place floats turn into the clock.
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            return SimDuration::ZERO;
        }
        let x = s * NS_PER_S as f64;
        if x >= u64::MAX as f64 {
            return SimDuration::MAX;
        }
        // `x.round()` (half away from zero), without the libm call it compiles to on
        // baseline x86-64 (no SSE4.1 `roundsd`): truncate, then look at the fraction, which
        // `x - t` gives exactly (below 2⁵² by Sterbenz's lemma; above, `x` is an integer).
        // Below 2⁶³ (any delay under 292 years) through the signed conversion: one
        // instruction on x86-64, where the unsigned one is a branchy sequence. Same value.
        if x < 9_223_372_036_854_775_808.0 {
            let t = x as i64;
            return SimDuration(if x - t as f64 >= 0.5 { t + 1 } else { t } as u64);
        }
        let t = x as u64;
        SimDuration(if x - t as f64 >= 0.5 { t + 1 } else { t })
    }

    /// Nanoseconds in this duration.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds, as a float (for arithmetic on rates and for reports).
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    /// Milliseconds, as a float (the unit of latencies in reports).
    #[inline]
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
    /// Whether this is the zero duration.
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self + other`, saturating.
    #[inline]
    pub fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
    /// `self - other`, or zero if `other` is longer.
    #[inline]
    pub fn saturating_sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }
    /// This duration scaled by a float factor, rounded to the nearest nanosecond (saturating;
    /// a negative or NaN factor gives zero). Used for "service time × k" gray failures.
    #[inline]
    pub fn mul_f64(self, k: f64) -> SimDuration {
        SimDuration::from_secs_f64(self.as_secs_f64() * k)
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Panics on overflow: a model that schedules beyond 584 years has a bug.
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(
            self.0
                .checked_add(d.0)
                .expect("simulated time overflowed u64 nanoseconds"),
        )
    }
}

impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Panics if `earlier` is later than `self`: durations are never negative.
    #[inline]
    fn sub(self, earlier: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(earlier.0)
                .expect("subtracted a later SimTime from an earlier one"),
        )
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, other: SimDuration) -> SimDuration {
        SimDuration(
            self.0
                .checked_add(other.0)
                .expect("SimDuration overflowed u64 nanoseconds"),
        )
    }
}

impl AddAssign for SimDuration {
    #[inline]
    fn add_assign(&mut self, other: SimDuration) {
        *self = *self + other;
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn sub(self, other: SimDuration) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(other.0)
                .expect("SimDuration subtraction went negative"),
        )
    }
}

impl Mul<u64> for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(
            self.0
                .checked_mul(k)
                .expect("SimDuration overflowed u64 nanoseconds"),
        )
    }
}

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDurationError {
    /// The string was empty.
    #[error("empty duration; expected a number and a unit such as \"250us\", \"20ms\", \"2s\"")]
    Empty,
    /// No number before the unit.
    #[error("duration {0:?} has no number; expected a number and a unit such as \"20ms\"")]
    NoNumber(String),
    /// The unit is missing or unknown.
    #[error("duration {input:?} has unit {unit:?}; expected one of ns, us, ms, s, m, h, d")]
    BadUnit {
        /// The whole input.
        input: String,
        /// What stood where the unit should be.
        unit: String,
    },
    /// Negative durations do not exist.
    #[error("duration {0:?} is negative; durations are zero or more")]
    Negative(String),
    /// More than 584 years, or not a finite number.
    #[error("duration {0:?} is out of range (at most ~584 years)")]
    OutOfRange(String),
    /// The value is finer than a nanosecond.
    #[error("duration {0:?} is not a whole number of nanoseconds")]
    SubNanosecond(String),
}

impl FromStr for SimDuration {
    type Err = ParseDurationError;

    /// Parses exactly the documented grammar: optional surrounding whitespace, a number,
    /// optional whitespace, a unit. The number is decimal digits with an optional fraction
    /// (`"2"`, `"1.5"`, `"1."`, `".5"`: at least one digit, no sign, no exponent); the unit is
    /// one of `ns`, `us` (or `µs`), `ms`, `s`, `m` (or `min`), `h`, `d`. Decimal arithmetic is
    /// exact (no float rounding): `"0.1s"` is exactly 100 000 000 ns.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = s.trim();
        if input.is_empty() {
            return Err(ParseDurationError::Empty);
        }
        if input.starts_with('-') {
            return Err(ParseDurationError::Negative(input.to_string()));
        }
        let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let int_len = digits(input);
        let (int_part, rest) = input.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(ParseDurationError::NoNumber(input.to_string()));
        }
        let unit = rest.trim_start();
        let scale = match unit {
            "ns" => 1,
            "us" | "µs" => NS_PER_US,
            "ms" => NS_PER_MS,
            "s" => NS_PER_S,
            "m" | "min" => NS_PER_MIN,
            "h" => NS_PER_H,
            "d" => NS_PER_D,
            _ => {
                return Err(ParseDurationError::BadUnit {
                    input: input.to_string(),
                    unit: unit.to_string(),
                });
            }
        };
        let out_of_range = || ParseDurationError::OutOfRange(input.to_string());
        let int: u64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| out_of_range())?
        };
        let mut ns = int.checked_mul(scale).ok_or_else(out_of_range)?;
        // Exact decimal fraction: digits beyond the unit's resolution must be zero.
        let mut place = scale;
        for digit in frac_part.bytes().map(|b| u64::from(b - b'0')) {
            if !place.is_multiple_of(10) {
                if digit != 0 {
                    return Err(ParseDurationError::SubNanosecond(input.to_string()));
                }
                continue;
            }
            place /= 10;
            ns = ns.checked_add(digit * place).ok_or_else(out_of_range)?;
        }
        Ok(SimDuration(ns))
    }
}

impl fmt::Display for SimDuration {
    /// The largest unit in which the duration is a whole number: `"2s"`, `"250us"`, `"1m"` for
    /// 60 s, `"1500ms"` for 1.5 s. Parsing the output gives back the same duration exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        for (name, scale) in UNITS {
            if ns.is_multiple_of(scale) {
                return write!(f, "{}{}", ns / scale, name);
            }
        }
        unreachable!("every duration is a whole number of nanoseconds")
    }
}

impl FromStr for SimTime {
    type Err = ParseDurationError;

    /// An instant written as the time since the start of the run (`"90s"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<SimDuration>().map(|d| SimTime(d.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", SimDuration(self.0))
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    /// Accepts a human duration string (`"20ms"`). A bare number is rejected on purpose: a
    /// unit-less `20` could mean seconds or milliseconds, and guessing is how outages happen.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string with a unit, such as \"250us\", \"20ms\", \"2s\", \"5m\", \"1h\", \"30d\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SimDuration, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for SimTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&SimDuration(self.0))
    }
}

impl<'de> Deserialize<'de> for SimTime {
    /// An instant is written as the duration since the start of the run (`"90s"`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SimDuration::deserialize(d).map(|x| SimTime(x.0))
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for SimDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\s*\\+?[0-9]*\\.?[0-9]+\\s*(ns|us|µs|ms|s|m|min|h|d)\\s*$",
            "description": "A duration with a unit: \"250us\", \"20ms\", \"2s\", \"5m\", \"1h\", \"30d\"",
            "examples": ["250us", "20ms", "2s", "5m", "1h", "30d"]
        })
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for SimTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        SimDuration::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The truncation-based rounding in `from_secs_f64` is `f64::round` exactly: halves,
    /// the largest double below one half, values around 2⁵² and 2⁵³, and a sweep of draws.
    #[test]
    fn from_secs_f64_rounds_exactly_like_f64_round() {
        let reference = |x: f64| {
            let ns = x.round();
            if ns >= u64::MAX as f64 {
                u64::MAX
            } else {
                ns as u64
            }
        };
        let mut xs = vec![
            0.0,
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            1.4999999999999998,
            4503599627370495.5,
            4503599627370496.0,
            9007199254740993.0,
            1.844_674_407_370_955e19,
        ];
        let mut v = 0.123_456_789_f64;
        for _ in 0..100_000 {
            v = (v * 7.31 + 0.377) % 1.0;
            xs.push(v * 1e3);
            xs.push(v * 1e12);
            xs.push((v * 2048.0).floor() + 0.5);
        }
        for x in xs {
            let d = SimDuration::from_secs_f64(x / NS_PER_S as f64);
            // Compare on the nanosecond value the conversion actually sees.
            let seen = (x / NS_PER_S as f64) * NS_PER_S as f64;
            assert_eq!(d.as_nanos(), reference(seen), "x = {x:e}, seen = {seen:e}");
        }
    }

    fn p(s: &str) -> SimDuration {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(p("250us").as_nanos(), 250_000);
        assert_eq!(p("20ms").as_nanos(), 20_000_000);
        assert_eq!(p("2s").as_nanos(), 2_000_000_000);
        assert_eq!(p("5m").as_nanos(), 300_000_000_000);
        assert_eq!(p("1h").as_nanos(), 3_600_000_000_000);
        assert_eq!(p("30d").as_nanos(), 30 * 86_400_000_000_000);
        assert_eq!(p("7ns").as_nanos(), 7);
        assert_eq!(p("1.5s").as_nanos(), 1_500_000_000);
        assert_eq!(p("0.1s").as_nanos(), 100_000_000);
        assert_eq!(p(" 3 ms ").as_nanos(), 3_000_000);
        assert_eq!(p(".5ms").as_nanos(), 500_000);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!("".parse::<SimDuration>(), Err(ParseDurationError::Empty));
        assert!(matches!(
            "-1s".parse::<SimDuration>(),
            Err(ParseDurationError::Negative(_))
        ));
        assert!(matches!(
            "20".parse::<SimDuration>(),
            Err(ParseDurationError::BadUnit { .. })
        ));
        assert!(matches!(
            "20 parsecs".parse::<SimDuration>(),
            Err(ParseDurationError::BadUnit { .. })
        ));
        assert!(matches!(
            "ms".parse::<SimDuration>(),
            Err(ParseDurationError::NoNumber(_))
        ));
        assert!(matches!(
            "1.5ns".parse::<SimDuration>(),
            Err(ParseDurationError::SubNanosecond(_))
        ));
        assert!(matches!(
            "99999999999999d".parse::<SimDuration>(),
            Err(ParseDurationError::OutOfRange(_))
        ));
        assert!(matches!(
            "1.2.3s".parse::<SimDuration>(),
            Err(ParseDurationError::BadUnit { .. })
        ));
        // A sign or an exponent inside the number is not part of the grammar (a `+` once
        // slipped through and "1.+5s" ran for 26 s).
        for bad in ["1.+5s", "+5s", "1e3ms", "1.5.s", "5 s s", "0x10s", "5s5"] {
            assert!(bad.parse::<SimDuration>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(p("1.s"), SimDuration::from_secs(1));
        assert_eq!(p(".5s"), SimDuration::from_millis(500));
        assert_eq!(p(" 2 ms "), SimDuration::from_millis(2));
    }

    /// The documented grammar, written independently as a regular expression, with the
    /// value computed in 128-bit integers.
    fn reference(s: &str) -> Option<Result<u64, ()>> {
        let re = regex::Regex::new(
            r"^\s*(?<int>[0-9]*)(?:\.(?<frac>[0-9]*))?\s*(?<unit>ns|us|µs|ms|s|min|m|h|d)\s*$",
        )
        .unwrap();
        let c = re.captures(s)?;
        let (int, frac) = (&c["int"], c.name("frac").map_or("", |m| m.as_str()));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let scale: u128 = match &c["unit"] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => 86_400_000_000_000,
        };
        // value × 10^len(frac) = digits, exactly.
        let digits: u128 = format!("0{int}{frac}").parse().ok()?;
        let den = 10u128.pow(frac.len() as u32);
        let ns = digits.checked_mul(scale).map(|x| (x, x % den));
        Some(match ns {
            Some((x, 0)) => u64::try_from(x / den).map_err(|_| ()),
            _ => Err(()),
        })
    }

    proptest::proptest! {
        /// The parser accepts exactly the documented grammar, with the exact value; random
        /// strings built from the characters and units that matter.
        #[test]
        fn parser_follows_the_documented_grammar(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "0", "1", "5", "9", "00", "12", ".", "+", "-", "e", " ", "ns", "us", "µs",
                    "ms", "s", "m", "min", "h", "d", "x", "99999999999999999999",
                ]),
                0..7,
            )
        ) {
            let s: String = parts.concat();
            let got = s.parse::<SimDuration>();
            match reference(&s) {
                None => proptest::prop_assert!(got.is_err(), "{s:?} parsed as {got:?}"),
                Some(Ok(ns)) => proptest::prop_assert_eq!(got, Ok(SimDuration(ns)), "{:?}", s),
                Some(Err(())) => proptest::prop_assert!(
                    matches!(
                        got,
                        Err(ParseDurationError::OutOfRange(_) | ParseDurationError::SubNanosecond(_))
                    ),
                    "{s:?}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn formats_in_largest_exact_unit_and_round_trips() {
        for s in [
            "250us", "20ms", "2s", "5m", "1h", "30d", "7ns", "1500ms", "90s",
        ] {
            let d = p(s);
            assert_eq!(d.to_string(), s);
            assert_eq!(p(&d.to_string()), d);
        }
        assert_eq!(p("60s").to_string(), "1m");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
    }

    #[test]
    fn serde_uses_strings_and_rejects_bare_numbers() {
        let d: SimDuration = serde_json::from_str("\"20ms\"").unwrap();
        assert_eq!(d, SimDuration::from_millis(20));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"20ms\"");
        assert!(serde_json::from_str::<SimDuration>("20").is_err());
    }

    #[test]
    fn float_conversion_rounds_and_clamps() {
        assert_eq!(SimDuration::from_secs_f64(1e-9).as_nanos(), 1);
        assert_eq!(SimDuration::from_secs_f64(-3.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN), SimDuration::ZERO);
        assert_eq!(SimDuration::from_secs_f64(1e30), SimDuration::MAX);
    }
}
