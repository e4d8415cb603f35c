//! Latency figures for the load generator: percentiles over recorded samples.

use std::fmt;
use std::time::Duration;

/// Recorded durations; summarised on demand. Keeps every sample (a load run
/// makes at most some millions), so percentiles are exact.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples: Vec<Duration>,
}

/// The figures a report prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    pub fn new() -> Latencies {
        Latencies::default()
    }

    pub fn record(&mut self, sample: Duration) {
        self.samples.push(sample);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The sample at quantile `q` (0 to 1) by the nearest-rank method: the
    /// smallest sample with at least `q` of all samples at or below it.
    /// `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        nearest_rank(&sorted, q)
    }

    /// p50, p99 and max; `None` without samples.
    pub fn summary(&self) -> Option<Summary> {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        Some(Summary {
            count: sorted.len(),
            p50: nearest_rank(&sorted, 0.50)?,
            p99: nearest_rank(&sorted, 0.99)?,
            max: *sorted.last()?,
        })
    }
}

fn nearest_rank(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let q = if q.is_finite() {
        q.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Milliseconds with two decimals, the unit reports use.
pub fn millis(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50={}ms p99={}ms max={}ms (n={})",
            millis(self.p50),
            millis(self.p99),
            millis(self.max),
            self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut l = Latencies::new();
        // 1..=100 ms, recorded out of order.
        for n in (1..=100).rev() {
            l.record(ms(n));
        }
        let s = l.summary().unwrap();
        assert_eq!(
            (s.count, s.p50, s.p99, s.max),
            (100, ms(50), ms(99), ms(100))
        );
        assert_eq!(l.quantile(0.0), Some(ms(1)));
        assert_eq!(l.quantile(1.0), Some(ms(100)));
        assert_eq!(l.quantile(0.501), Some(ms(51)));
    }

    #[test]
    fn small_and_empty_sets() {
        assert_eq!(Latencies::new().summary(), None);
        let mut one = Latencies::new();
        one.record(ms(7));
        let s = one.summary().unwrap();
        assert_eq!((s.p50, s.p99, s.max), (ms(7), ms(7), ms(7)));
        let mut two = Latencies::new();
        two.record(ms(1));
        two.record(ms(9));
        let s = two.summary().unwrap();
        // p99 of two samples is the larger one, p50 the smaller.
        assert_eq!((s.p50, s.p99), (ms(1), ms(9)));
    }

    #[test]
    fn one_outlier_shows_in_max_and_p99_only_when_it_is_over_one_percent() {
        let mut l = Latencies::new();
        for _ in 0..999 {
            l.record(ms(2));
        }
        l.record(ms(5000));
        let s = l.summary().unwrap();
        assert_eq!((s.p50, s.p99, s.max), (ms(2), ms(2), ms(5000)));
        let mut merged = Latencies::new();
        merged.extend(l);
        for _ in 0..20 {
            merged.record(ms(3000));
        }
        assert_eq!(merged.summary().unwrap().p99, ms(3000));
    }

    #[test]
    fn display_is_in_milliseconds() {
        let s = Summary {
            count: 3,
            p50: Duration::from_micros(1500),
            p99: ms(12),
            max: ms(40),
        };
        assert_eq!(s.to_string(), "p50=1.50ms p99=12.00ms max=40.00ms (n=3)");
    }
}
