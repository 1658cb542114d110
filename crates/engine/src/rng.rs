//! Named random streams.
//!
//! Every random number in a run comes from a ChaCha8 generator derived from the run's master
//! seed and a *stable stream key* — a component's name or role such as `"server/app-1"` —
//! never from registration order. Adding a component therefore leaves the numbers every other
//! component draws unchanged (common random numbers: two topologies that differ in one place
//! see the same arrivals and the same service times everywhere else, so their comparison is
//! sharp). The algorithm is pinned (`rand_chacha`, not `StdRng`, whose algorithm may change
//! between rand releases) and the key is hashed with FNV-1a, whose output is fixed by its
//! definition on every platform.

use rand_chacha::ChaCha8Rng;
use rand_core::{Infallible, Rng, SeedableRng, TryRng};

/// The generator behind every stream: ChaCha with 8 rounds (fast, statistically strong, and
/// its output is fixed by the `rand_chacha` crate's specification).
pub type SimRng = ChaCha8Rng;

/// Derives independent generators from one master seed and stable string keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngStreams {
    master_seed: u64,
}

impl RngStreams {
    /// Streams for a run with this master seed.
    pub const fn new(master_seed: u64) -> Self {
        RngStreams { master_seed }
    }

    /// The master seed these streams derive from.
    pub const fn master_seed(&self) -> u64 {
        self.master_seed
    }

    /// The generator for `key`. The same (seed, key) always gives the same sequence; different
    /// keys give independent sequences (ChaCha's 2^64 streams per seed, selected by the key's
    /// FNV-1a hash).
    pub fn stream(&self, key: &str) -> SimRng {
        let mut rng = SimRng::seed_from_u64(self.master_seed);
        rng.set_stream(fnv1a64(key.as_bytes()));
        rng
    }

    /// A 64-bit key derived from the master seed and `key`: the root of a family of small
    /// generators ([`WorkRng`]) that draw what one piece of work needs.
    pub fn key(&self, key: &str) -> u64 {
        splitmix64(self.master_seed ^ fnv1a64(key.as_bytes()))
    }

    /// The streams of replication `index` of this run: a new master seed mixed from this one
    /// and the index, so replications are independent yet each is reproducible on its own.
    pub fn replication(&self, index: u64) -> RngStreams {
        RngStreams::new(splitmix64(
            self.master_seed ^ splitmix64(index.wrapping_add(1)),
        ))
    }
}

/// A small generator for the few draws one piece of work needs (a request's service demand
/// at one tier), seeded from a key and the work's coordinates: the same work draws the same
/// numbers wherever it is served, whatever else happened in the run. SplitMix64's sequence
/// (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators"): a Weyl
/// sequence through the SplitMix64 finaliser; fixed by its definition on every platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkRng {
    state: u64,
}

impl WorkRng {
    /// The generator for the work at `coordinates` of the family `key`.
    #[inline]
    pub fn new(key: u64, coordinates: u64) -> Self {
        WorkRng {
            state: key ^ splitmix64(coordinates),
        }
    }
}

impl TryRng for WorkRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// FNV-1a, 64-bit: a fixed, platform-independent hash for stream keys.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finaliser: a bijective mixer, used to derive replication seeds.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in the open interval (0, 1), from the top 53 bits of one `u64`. Open at
/// both ends so `ln(u)` and inverse CDFs never see 0 or 1.
#[inline]
pub fn open01<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` (n > 0), by Lemire's multiply-shift with rejection, so it is
/// exactly uniform. Panics if `n == 0` (a model bug, not user input).
///
/// "Nearly divisionless" (Lemire 2019, "Fast random integer generation in an interval",
/// ACM TOMACS 29(1)): the rejection threshold `2⁶⁴ mod n` is below `n`, so a low half of at
/// least `n` is accepted without computing it; the 64-bit division runs only for the rare
/// draws whose low half is below `n`. The accepted draws, and so the stream, are exactly
/// those of always comparing with the threshold.
#[inline]
pub fn below<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    assert!(n > 0, "below(0): empty range");
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_sequence_and_keys_are_independent() {
        let s = RngStreams::new(42);
        let mut a = s.stream("server/app-1");
        let mut b = s.stream("server/app-1");
        let mut c = s.stream("server/app-2");
        let xa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        assert_ne!(RngStreams::new(43).stream("server/app-1").next_u64(), xa[0]);
    }

    #[test]
    fn known_answers_pin_the_algorithm() {
        // If these change, every golden report changes: a rand_chacha upgrade altered streams.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let mut k = RngStreams::new(1).stream("k");
        let first: [u64; 3] = [k.next_u64(), k.next_u64(), k.next_u64()];
        assert_eq!(
            first,
            [
                2892986119324412776,
                11204980009924472599,
                13566086465494817132
            ],
            "ChaCha8, seed 1, stream \"k\""
        );
        assert_eq!(splitmix64(0), 16294208416658607535, "SplitMix64 finaliser");
        assert_eq!(
            RngStreams::new(1).key("k"),
            4657029333753147970,
            "a derived key"
        );
        let mut w = WorkRng::new(1, 2);
        assert_eq!(
            [w.next_u64(), w.next_u64()],
            [16171810823986729605, 15267791707863995792],
            "the work generator"
        );
        assert_eq!(
            RngStreams::new(1).replication(1).master_seed(),
            16171810823986729605
        );
    }

    #[test]
    fn replications_differ() {
        let s = RngStreams::new(7);
        assert_ne!(s.replication(0), s.replication(1));
        assert_eq!(s.replication(3), s.replication(3));
    }

    /// The nearly divisionless `below` accepts exactly the draws the textbook form does (the
    /// threshold compared every time), so streams — and every report — are unchanged by it.
    /// `n` just above 2⁶³ rejects almost half the draws: the retry path is exercised.
    #[test]
    fn below_matches_the_always_threshold_form() {
        fn reference(rng: &mut SimRng, n: u64) -> u64 {
            let threshold = n.wrapping_neg() % n;
            loop {
                let m = u128::from(rng.next_u64()) * u128::from(n);
                if (m as u64) >= threshold {
                    return (m >> 64) as u64;
                }
            }
        }
        for n in [
            1,
            2,
            3,
            7,
            1000,
            1 << 32,
            (1 << 63) + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut a = RngStreams::new(5).stream("below");
            let mut b = RngStreams::new(5).stream("below");
            for _ in 0..20_000 {
                assert_eq!(below(&mut a, n), reference(&mut b, n), "n = {n}");
            }
        }
    }

    #[test]
    fn open01_and_below_stay_in_range() {
        let mut r = RngStreams::new(9).stream("t");
        for _ in 0..10_000 {
            let u = open01(&mut r);
            assert!(u > 0.0 && u < 1.0);
            assert!(below(&mut r, 7) < 7);
        }
    }
}
