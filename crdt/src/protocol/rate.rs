//! A token bucket: the per-connection message rate limit. Time comes in as a
//! parameter, so tests step it by hand.

use std::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket: `burst` messages at once, refilled at `per_second`.
    /// A burst under one would refuse everything; it counts as one.
    pub(crate) fn new(per_second: u32, burst: u32, now: Instant) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            per_second: f64::from(per_second),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one. Time that runs backwards (a caller's
    /// clock mix-up) adds nothing rather than panicking.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        if now > self.last {
            self.last = now;
        }
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_average_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10, 5, t0);
        assert!((0..5).all(|_| bucket.try_take(t0)));
        assert!(!bucket.try_take(t0));
        // 100 ms at 10 per second refills one.
        let t1 = t0 + Duration::from_millis(100);
        assert!(bucket.try_take(t1));
        assert!(!bucket.try_take(t1));
        // A long pause refills to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_take(t2)).count(), 5);
        // Time running backwards is harmless.
        assert!(!bucket.try_take(t0));
    }
}
