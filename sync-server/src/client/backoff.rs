//! When to try again after a connection is lost: exponential backoff with
//! jitter, so that a hundred clients cut off by one server restart do not all
//! knock at the same instant.
//!
//! The schedule is a pure function of the failure count and a random number
//! the caller passes in ([`Backoff::next_delay`]); [`Jitter`] is the small
//! seeded generator the client uses, so tests can fix the sequence.

use std::time::Duration;

/// How the delay between connection attempts grows. Start from
/// [`BackoffOptions::DEFAULT`] and change fields with the `with_*` setters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffOptions {
    /// Delay before the first retry, before jitter. Default: 250 ms.
    pub initial: Duration,
    /// Ceiling for the delay, before jitter. Default: 15 s.
    pub max: Duration,
    /// Growth per failed attempt. Default: 2.
    pub factor: f64,
    /// Fraction of the delay that is random: the delay is drawn uniformly
    /// from `[d * (1 - jitter), d]`. 0 disables jitter, 1 is "full jitter".
    /// Default: 0.5.
    pub jitter: f64,
}

impl BackoffOptions {
    pub const DEFAULT: BackoffOptions = BackoffOptions {
        initial: Duration::from_millis(250),
        max: Duration::from_secs(15),
        factor: 2.0,
        jitter: 0.5,
    };

    pub fn with_initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    pub fn with_max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }
}

impl Default for BackoffOptions {
    fn default() -> Self {
        BackoffOptions::DEFAULT
    }
}

/// Failed attempts since the last success, and the delay they call for.
#[derive(Debug, Clone)]
pub struct Backoff {
    options: BackoffOptions,
    failures: u32,
}

impl Backoff {
    pub fn new(options: BackoffOptions) -> Backoff {
        Backoff {
            options,
            failures: 0,
        }
    }

    /// Failed attempts counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A connection worked (it synced): the next loss retries quickly again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The delay before the next attempt, counting one more failure.
    /// `unit` is a random number in `[0, 1)` (clamped); it picks the point
    /// inside the jitter window.
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let o = &self.options;
        let exponent = i32::try_from(self.failures).unwrap_or(i32::MAX);
        let grown = o.initial.as_secs_f64() * o.factor.max(1.0).powi(exponent);
        let ceiling = grown.min(o.max.as_secs_f64()).max(0.0);
        let jitter = o.jitter.clamp(0.0, 1.0);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let secs = ceiling * (1.0 - jitter * unit);
        self.failures = self.failures.saturating_add(1);
        Duration::from_secs_f64(secs)
    }
}

/// A small, seeded random source for jitter (SplitMix64). Not for secrets.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed)
    }

    /// Seeded from the clock and a counter: different for every client in a
    /// process, which is the point of jitter.
    pub fn from_entropy() -> Jitter {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Jitter(nanos ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn without_jitter_the_delay_doubles_up_to_the_ceiling() {
        let mut b = Backoff::new(
            BackoffOptions::DEFAULT
                .with_initial(Duration::from_millis(100))
                .with_max(Duration::from_secs(1))
                .with_jitter(0.0),
        );
        let delays: Vec<u128> = (0..7).map(|_| ms(b.next_delay(0.7))).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(b.failures(), 7);
        b.reset();
        assert_eq!(ms(b.next_delay(0.0)), 100);
    }

    #[test]
    fn jitter_stays_inside_its_window() {
        let options = BackoffOptions::DEFAULT.with_jitter(0.5);
        let mut rng = Jitter::new(7);
        for failures in 0..20 {
            let mut b = Backoff::new(options);
            for _ in 0..failures {
                b.next_delay(0.0);
            }
            let d = b.next_delay(rng.unit()).as_secs_f64();
            let ceiling = (0.25 * 2f64.powi(failures)).min(15.0);
            assert!(
                d <= ceiling + 1e-9 && d >= ceiling * 0.5 - 1e-9,
                "{d} vs {ceiling}"
            );
        }
        // The window's ends.
        let mut b = Backoff::new(options);
        assert_eq!(ms(b.next_delay(0.0)), 250);
        let mut b = Backoff::new(options);
        assert_eq!(ms(b.next_delay(1.0)), 125);
        // Nonsense randomness cannot make a nonsense delay.
        let mut b = Backoff::new(options);
        assert_eq!(ms(b.next_delay(f64::NAN)), 250);
    }

    #[test]
    fn huge_failure_counts_saturate() {
        let mut b = Backoff::new(BackoffOptions::DEFAULT.with_jitter(0.0));
        for _ in 0..10_000 {
            b.next_delay(0.5);
        }
        assert_eq!(b.next_delay(0.5), Duration::from_secs(15));
    }

    #[test]
    fn jitter_is_seeded_and_spread() {
        let a: Vec<u64> = {
            let mut j = Jitter::new(1);
            (0..4).map(|_| j.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut j = Jitter::new(1);
            (0..4).map(|_| j.next_u64()).collect()
        };
        assert_eq!(a, b);
        let mut j = Jitter::new(2);
        let units: Vec<f64> = (0..1000).map(|_| j.unit()).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = units.iter().sum::<f64>() / units.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }
}
