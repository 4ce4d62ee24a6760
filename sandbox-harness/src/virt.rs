//! Virtual time and seeded randomness, so two runs of the same input see the same world.
//!
//! Both clocks read one shared counter of virtual nanoseconds. Each read advances it by one
//! tick (so busy-wait loops still make progress) and `poll_oneoff` advances it to the
//! deadline it waits for, instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// Wall-clock time at virtual zero: 2000-01-01T00:00:00Z.
pub const WALL_START: Duration = Duration::from_secs(946_684_800);
/// Virtual nanoseconds a clock read takes.
pub const TICK_NS: u64 = 1_000;
/// Seed of every random stream a guest sees.
pub const SEED: u64 = 0x0005_eed0_fa11_ba5e;

/// Virtual nanoseconds since the start of the run, shared by both clocks and `poll_oneoff`.
#[derive(Debug, Clone, Default)]
pub struct VirtualTime(Arc<AtomicU64>);

impl VirtualTime {
    /// Current virtual time, advanced by one tick.
    pub fn read(&self) -> u64 {
        self.0.fetch_add(TICK_NS, Ordering::Relaxed) + TICK_NS
    }
    /// Current virtual time without advancing it.
    pub fn peek(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// Moves virtual time forward to `t` (never backwards).
    pub fn advance_to(&self, t: u64) {
        self.0.fetch_max(t, Ordering::Relaxed);
    }
}

/// The wall clock a guest sees: [`WALL_START`] plus virtual time.
#[derive(Debug, Clone)]
pub struct Wall(pub VirtualTime);

impl HostWallClock for Wall {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(TICK_NS)
    }
    fn now(&self) -> Duration {
        WALL_START + Duration::from_nanos(self.0.read())
    }
}

/// The monotonic clock a guest sees: virtual time itself.
#[derive(Debug, Clone)]
pub struct Monotonic(pub VirtualTime);

impl HostMonotonicClock for Monotonic {
    fn resolution(&self) -> u64 {
        TICK_NS
    }
    fn now(&self) -> u64 {
        self.0.read()
    }
}

/// A fixed pseudo-random byte cycle (splitmix64 from [`SEED`]), long enough that guests
/// asking for keys or nonces do not see an obvious repetition.
pub fn random_bytes(stream: u64) -> Vec<u8> {
    let mut state = SEED ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(1 << 16);
    while out.len() < 1 << 16 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}
