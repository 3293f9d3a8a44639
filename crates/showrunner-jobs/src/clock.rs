//! Where the scheduler's "now" comes from: the system clock in service, a [`ManualClock`]
//! that tests step.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use showrunner_model::Timestamp;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp::from_millis(millis)
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    millis: Mutex<i64>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            millis: Mutex::new(start.millis()),
        }
    }

    pub fn set(&self, at: Timestamp) {
        if let Ok(mut millis) = self.millis.lock() {
            *millis = at.millis();
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut millis) = self.millis.lock() {
            *millis += by.as_millis() as i64;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.millis.lock().map_or(0, |m| *m))
    }
}
