//! Single-flight: concurrent callers asking for the same key share one call.
//!
//! The first caller for a key (the leader) runs the work; callers arriving
//! while it runs (followers) wait for it and get a clone of its result. When
//! the call ends the key is forgotten, so the next caller calls again: this
//! is not a cache. A follower waits no longer than its own deadline.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Shares in-flight calls per key.
pub struct Coalescer<K, V> {
    flights: Mutex<HashMap<K, Arc<Flight<V>>>>,
}

struct Flight<V> {
    result: Mutex<Option<V>>,
    done: Condvar,
}

/// How a caller got its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This caller ran the work.
    Leader,
    /// This caller shared a call that another caller ran.
    Follower,
}

/// A lock that was poisoned by a panic elsewhere still guards valid data
/// here (an Option or a map of Arcs), so carry on rather than panic too.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<K: Eq + Hash + Clone, V: Clone> Default for Coalescer<K, V> {
    fn default() -> Self {
        Coalescer {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Coalescer<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` for `key`, or waits up to `wait` for the call already in
    /// flight. Returns `None` only for a follower whose wait ran out.
    pub fn run(&self, key: &K, wait: Duration, work: impl FnOnce() -> V) -> Option<(V, Role)> {
        let (flight, role) = {
            let mut flights = lock(&self.flights);
            match flights.get(key) {
                Some(f) => (Arc::clone(f), Role::Follower),
                None => {
                    let f = Arc::new(Flight {
                        result: Mutex::new(None),
                        done: Condvar::new(),
                    });
                    flights.insert(key.clone(), Arc::clone(&f));
                    (f, Role::Leader)
                }
            }
        };

        match role {
            Role::Leader => {
                // Forget the key even if `work` unwinds, so that later
                // callers start a new call instead of waiting on a dead one.
                let guard = Forget {
                    coalescer: self,
                    key,
                    flight: &flight,
                };
                let value = work();
                drop(guard);
                *lock(&flight.result) = Some(value.clone());
                flight.done.notify_all();
                Some((value, Role::Leader))
            }
            Role::Follower => {
                let deadline = Instant::now() + wait;
                let mut result = lock(&flight.result);
                loop {
                    if let Some(v) = result.as_ref() {
                        return Some((v.clone(), Role::Follower));
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    result = match flight.done.wait_timeout(result, left) {
                        Ok((guard, _)) => guard,
                        Err(poisoned) => poisoned.into_inner().0,
                    };
                }
            }
        }
    }

    /// How many keys have a call in flight now.
    pub fn in_flight(&self) -> usize {
        lock(&self.flights).len()
    }
}

struct Forget<'a, K: Eq + Hash + Clone, V: Clone> {
    coalescer: &'a Coalescer<K, V>,
    key: &'a K,
    flight: &'a Arc<Flight<V>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Drop for Forget<'_, K, V> {
    fn drop(&mut self) {
        let mut flights = lock(&self.coalescer.flights);
        if flights
            .get(self.key)
            .is_some_and(|f| Arc::ptr_eq(f, self.flight))
        {
            flights.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;
    use std::thread;

    #[test]
    fn concurrent_callers_share_one_call() {
        let c: Arc<Coalescer<&str, usize>> = Arc::new(Coalescer::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (c, calls, start) = (c.clone(), calls.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    c.run(&"acct", Duration::from_secs(5), || {
                        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                        thread::sleep(Duration::from_millis(300));
                        n
                    })
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|r| r.map(|(v, _)| v) == Some(1)));
        let leaders = results
            .iter()
            .filter(|r| matches!(r, Some((_, Role::Leader))))
            .count();
        assert_eq!(leaders, 1);
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn the_next_call_after_one_ends_runs_again() {
        let c: Coalescer<u8, u32> = Coalescer::new();
        let a = c.run(&1, Duration::from_secs(1), || 1);
        let b = c.run(&1, Duration::from_secs(1), || 2);
        assert_eq!(a, Some((1, Role::Leader)));
        assert_eq!(b, Some((2, Role::Leader)));
    }

    #[test]
    fn different_keys_do_not_wait_for_each_other() {
        let c: Arc<Coalescer<u8, u8>> = Arc::new(Coalescer::new());
        let c2 = c.clone();
        let slow = thread::spawn(move || {
            c2.run(&1, Duration::from_secs(5), || {
                thread::sleep(Duration::from_millis(500));
                1
            })
        });
        thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        assert_eq!(
            c.run(&2, Duration::from_secs(5), || 2),
            Some((2, Role::Leader))
        );
        assert!(t.elapsed() < Duration::from_millis(400));
        slow.join().unwrap();
    }

    #[test]
    fn a_follower_gives_up_at_its_own_deadline() {
        let c: Arc<Coalescer<u8, u8>> = Arc::new(Coalescer::new());
        let c2 = c.clone();
        let leader = thread::spawn(move || {
            c2.run(&1, Duration::from_secs(5), || {
                thread::sleep(Duration::from_millis(800));
                1
            })
        });
        thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        assert_eq!(c.run(&1, Duration::from_millis(100), || 9), None);
        assert!(t.elapsed() < Duration::from_millis(600));
        assert_eq!(leader.join().unwrap(), Some((1, Role::Leader)));
    }

    #[test]
    fn a_panicking_leader_does_not_strand_the_key() {
        let c: Arc<Coalescer<u8, u8>> = Arc::new(Coalescer::new());
        let c2 = c.clone();
        let r = thread::spawn(move || c2.run(&1, Duration::from_secs(1), || panic!("boom"))).join();
        assert!(r.is_err());
        assert_eq!(c.in_flight(), 0);
        assert_eq!(
            c.run(&1, Duration::from_secs(1), || 3),
            Some((3, Role::Leader))
        );
    }
}
