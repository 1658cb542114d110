//! The transcendental functions every result goes through, from one pure-Rust implementation.
//!
//! `f64::ln`, `exp`, `powf` and friends call the platform's C math library, whose last bit
//! differs between libcs and architectures (glibc, musl, macOS, MSVC each round some inputs
//! differently). One ulp in a sampled service time can move an integer-nanosecond draw, and
//! from there the whole order of events: the same seed would give different reports on
//! different machines. These wrappers go to the `libm` crate instead (a port of musl's math
//! library, in Rust, built from source with the rest), so every platform computes the same
//! bits. Basic arithmetic and `sqrt` are exactly rounded by IEEE 754 everywhere and need no
//! wrapper. `clippy.toml` forbids the `std` versions in the workspace.

/// The natural logarithm.
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// `ln(1 + x)`, accurate for small `x`.
#[inline]
pub fn ln_1p(x: f64) -> f64 {
    libm::log1p(x)
}

/// `e^x`.
#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// `e^x − 1`, accurate for small `x`.
#[inline]
pub fn exp_m1(x: f64) -> f64 {
    libm::expm1(x)
}

/// `x^y`.
#[inline]
pub fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// `(sin x, cos x)`.
#[inline]
pub fn sin_cos(x: f64) -> (f64, f64) {
    libm::sincos(x)
}

/// `sin x`.
#[inline]
pub fn sin(x: f64) -> f64 {
    libm::sin(x)
}

/// The complementary error function `erfc(x) = 1 − erf(x)`.
#[inline]
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// The gamma function Γ(x).
#[inline]
pub fn gamma(x: f64) -> f64 {
    libm::tgamma(x)
}

/// `ln |Γ(x)|`.
#[inline]
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// The standard normal quantile Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation
/// (relative error < 1.2·10⁻⁹), refined by one Halley step on `erfc`, which brings it to
/// within a few ulp. `p` outside (0, 1) gives ∓∞ or NaN.
pub fn std_normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        let q = (-2.0 * ln(q)).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < LOW {
        tail(p)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail(1.0 - p)
    };
    // Halley's step on Φ(x) − p, with Φ(x) = erfc(−x/√2)/2.
    let e = 0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * exp(0.5 * x * x);
    x - u / (1.0 + 0.5 * x * u)
}

/// The regularized incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1], by its
/// continued fraction (modified Lentz; Numerical Recipes, 3rd ed., §6.4), on the side of the
/// symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where it converges fast.
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = exp(ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * ln(x) + b * ln_1p(-x));
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=500 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        // The even and the odd term of the fraction.
        h *= lentz(
            1.0,
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            &mut c,
            &mut d,
        );
        let del = lentz(
            1.0,
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            &mut c,
            &mut d,
        );
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// One step of the modified Lentz method for `… + aa / (b + …)`: updates `c` and `d` and
/// returns the factor `d·c` the convergent is multiplied by.
fn lentz(b: f64, aa: f64, c: &mut f64, d: &mut f64) -> f64 {
    *d = 1.0 / nonzero(b + aa * *d);
    *c = nonzero(b + aa / *c);
    *d * *c
}

/// `x`, kept away from zero (Lentz's method divides by it).
fn nonzero(x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    if x.abs() < TINY { TINY } else { x }
}

/// The CDF of Student's t distribution with `df` degrees of freedom at `t`.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * inc_beta(0.5 * df, 0.5, df / (df + t * t));
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// Above this many degrees of freedom [`student_t_quantile`] is the Cornish–Fisher expansion.
const LARGE_DF: f64 = 1_000.0;

/// The quantile of Student's t distribution with `df` ≥ 1 degrees of freedom at `p` in
/// (0, 1): closed forms for df = 1 and 2; up to 1 000 degrees of freedom, Newton's method on
/// [`student_t_cdf`] from the Cornish–Fisher expansion around the normal quantile, kept
/// inside a bisection bracket, to full double precision; beyond, the expansion itself.
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) || df.is_nan() || df < 1.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    if p == 0.5 {
        return 0.0;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if df == 1.0 {
        // Cauchy: tan(π(p − ½)).
        let (s, c) = sin_cos(std::f64::consts::PI * (p - 0.5));
        return s / c;
    }
    if df == 2.0 {
        return (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
    }
    let z = std_normal_quantile(p);
    let z2 = z * z;
    let (z3, z5, z7) = (z2 * z, z2 * z2 * z, z2 * z2 * z2 * z);
    let cornish_fisher = z
        + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df * df * df);
    if df > LARGE_DF {
        // The expansion's error is O(df⁻⁴): below 10⁻¹² here, and the continued fraction
        // would need ever more terms as df grows.
        return cornish_fisher;
    }
    let mut t = cornish_fisher;
    // Bracket [lo, hi] with F(lo) < p ≤ F(hi).
    let (mut lo, mut hi) = (0.0, t.max(1.0));
    while student_t_cdf(hi, df) < p {
        lo = hi;
        hi *= 2.0;
    }
    let ln_norm =
        ln_gamma(0.5 * (df + 1.0)) - ln_gamma(0.5 * df) - 0.5 * ln(df * std::f64::consts::PI);
    for _ in 0..100 {
        if !(lo < t && t < hi) {
            t = 0.5 * (lo + hi);
        }
        let f = student_t_cdf(t, df) - p;
        if f < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let pdf = exp(ln_norm - 0.5 * (df + 1.0) * ln_1p(t * t / df));
        let next = t - f / pdf;
        if (next - t).abs() <= 4.0 * f64::EPSILON * t.abs() {
            return next;
        }
        t = next;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known values, computed with mpmath at 40 significant digits (the t quantile by root
    /// finding on the regularized incomplete beta function). The t quantile is within
    /// 10⁻¹² relative (ln Γ of large arguments loses the last digits at df near 1000).
    #[test]
    fn quantiles_match_known_values() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        for (p, want) in [
            (0.975, 1.959_963_984_540_054_2),
            (0.5, 0.0),
            (0.999, 3.090_232_306_167_813_5),
            (0.001, -3.090_232_306_167_813_5),
            (0.01, -2.326_347_874_040_841),
        ] {
            let got = std_normal_quantile(p);
            assert!(close(got, want), "Φ⁻¹({p}) = {got}, want {want}");
        }
        for (df, want) in [
            (1.0, 12.706_204_736_174_705),
            (2.0, 4.302_652_729_749_464),
            (3.0, 3.182_446_305_283_709_6),
            (4.0, 2.776_445_105_197_794_4),
            (9.0, 2.262_157_162_798_205_5),
            (19.0, 2.093_024_054_408_309_8),
            (30.0, 2.042_272_456_301_238),
            (1000.0, 1.962_339_080_826_408_5),
        ] {
            let got = student_t_quantile(0.975, df);
            assert!(close(got, want), "t(0.975, {df}) = {got}, want {want}");
        }
        assert!(close(
            student_t_quantile(0.025, 9.0),
            -2.262_157_162_798_205_5
        ));
        assert!(close(student_t_quantile(0.995, 4.0), 4.604_094_871_349_993));
    }

    #[test]
    fn incomplete_beta_matches_closed_forms() {
        // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b.
        for x in [0.0, 0.1, 0.5, 0.9, 1.0] {
            assert!((inc_beta(1.0, 1.0, x) - x).abs() < 1e-15);
            assert!((inc_beta(3.0, 1.0, x) - x * x * x).abs() < 1e-15);
            assert!((inc_beta(1.0, 2.0, x) - (1.0 - (1.0 - x) * (1.0 - x))).abs() < 1e-15);
        }
    }

    /// Known answers, bit for bit: what the functions every result goes through return on
    /// this and every other platform (the libm crate's, and the quantiles built on them).
    #[test]
    fn known_answers_pin_the_bits() {
        #[rustfmt::skip]
        let want: [(f64, [u64; 9]); 5] = [
            (0.1, [0xc0026bb1bbb55515, 0x3ff1aec7b35a00d4, 0x3fb8663f793c46c7, 0x3fbaec7b35a00d3a, 0x3f946e75df96dc9a, 0x3fb98eaecb8bcb2c, 0x3fec66b42bb6099a, 0x402306ea7b280d87, 0x4002058e35f3deed]),
            (0.5, [0xbfe62e42fefa39ef, 0x3ffa61298e1e069c, 0x3fd9f323ecbf984c, 0x3fe4c2531c3c0d38, 0x3fd3b2c47bff8329, 0x3fdeaee8744b05f0, 0x3fdeb02147ce245c, 0x3ffc5bf891b4ef6a, 0x3fe250d048e7a1bd]),
            (2.0, [0x3fe62e42fefa39ef, 0x401d8e64b8d4ddae, 0x3ff193ea7aad030a, 0x40198e64b8d4ddae, 0x4009fdf8bcce533d, 0x3fed18f6ead1b446, 0x3f7328f5ec350e67, 0x3ff0000000000000, 0x0]),
            (7.25, [0x3fffb22e98a1c24e, 0x4096006b5d53e8d9, 0x4000e1b775589bd9, 0x4095fc6b5d53e8d9, 0x403d03050bbdf342, 0x3fea56adb62a27b9, 0x3af62e225ebca18f, 0x40920d86288356b3, 0x401c35701a50ff06]),
            (30.0, [0x400b35a6f90bd69b, 0x42a370470aec28ed, 0x400b78ce48912b5a, 0x42a370470aec26ed, 0x407446b3c537e2a4, 0xbfef9df47f1c903d, 0x0, 0x465be6518687a786, 0x4051d07353917231]),
        ];
        for (x, bits) in want {
            let got = [
                ln(x),
                exp(x),
                ln_1p(x),
                exp_m1(x),
                pow(x, 1.7),
                sin(x),
                erfc(x),
                gamma(x),
                ln_gamma(x),
            ]
            .map(f64::to_bits);
            assert_eq!(got, bits, "at {x}");
        }
        assert_eq!(student_t_quantile(0.975, 9.0).to_bits(), 0x400218e5dac50b21);
        assert_eq!(
            student_t_quantile(0.975, 4000.0).to_bits(),
            0x3fff5e7141b9afea
        );
        assert_eq!(std_normal_quantile(0.975).to_bits(), 0x3fff5c0331eeff83);
    }
}
