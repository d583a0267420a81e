//! Connection limits. This module is a patch: upstream tiny_http 0.12.0 has
//! none of it (see PATCHES.md at the crate root).

use std::collections::VecDeque;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::connection::Connection;

/// Bounds on what clients can make the server hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once. At the limit a new connection closes the
    /// open connection that has waited longest for a request; when every
    /// connection is busy with a request, the new connection is closed.
    pub max_connections: usize,
    /// How long one read may block. An idle keep-alive connection, or a
    /// request head that stops arriving, is closed after this.
    pub read_timeout: Duration,
    /// How long one write may block on a client that does not read.
    pub write_timeout: Duration,
    /// The longest request line or header line, in bytes. A longer request
    /// line gets 414, a longer header line 431.
    pub max_line_bytes: usize,
    /// The most header lines in one request; more get 431.
    pub max_headers: usize,
    /// Stack size of each connection thread.
    pub thread_stack: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            read_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(30),
            max_line_bytes: 8192,
            max_headers: 100,
            thread_stack: 256 * 1024,
        }
    }
}

/// Counts open connections and knows which of them wait for a request.
pub(crate) struct Registry {
    max: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    open: usize,
    next_id: u64,
    /// Connections waiting for a request, oldest first.
    waiting: VecDeque<Arc<Slot>>,
}

struct Slot {
    id: u64,
    conn: Connection,
    evicted: AtomicBool,
}

/// One admitted connection; dropping it gives its place back.
pub(crate) struct Ticket {
    registry: Arc<Registry>,
    slot: Arc<Slot>,
}

impl Registry {
    pub(crate) fn new(max: usize) -> Arc<Registry> {
        Arc::new(Registry {
            max: max.max(1),
            inner: Mutex::new(Inner {
                open: 0,
                next_id: 0,
                waiting: VecDeque::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic never happens while the lock is held; take it back anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a new connection, closing the longest-waiting one when full.
    /// `conn` is a handle on the new connection's socket. `None`: refused.
    pub(crate) fn admit(self: &Arc<Self>, conn: Connection) -> Option<Ticket> {
        let mut inner = self.lock();
        if inner.open >= self.max {
            let oldest = inner.waiting.pop_front()?;
            oldest.evicted.store(true, Ordering::Relaxed);
            inner.open -= 1;
            let _ = oldest.conn.shutdown(Shutdown::Both);
            log::debug!("connection limit ({}) reached: closed the connection that waited longest", self.max);
        }
        inner.open += 1;
        inner.next_id += 1;
        let slot = Arc::new(Slot {
            id: inner.next_id,
            conn,
            evicted: AtomicBool::new(false),
        });
        Some(Ticket {
            registry: Arc::clone(self),
            slot,
        })
    }

    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.lock().open
    }
}

impl Ticket {
    /// The connection now waits for a request and may be closed for a newcomer.
    pub(crate) fn waiting(&self) {
        let mut inner = self.registry.lock();
        if !self.slot.evicted.load(Ordering::Relaxed) {
            inner.waiting.push_back(Arc::clone(&self.slot));
        }
    }

    /// The connection has a request to answer. False: it was closed already.
    pub(crate) fn busy(&self) -> bool {
        let mut inner = self.registry.lock();
        let id = self.slot.id;
        inner.waiting.retain(|s| s.id != id);
        !self.slot.evicted.load(Ordering::Relaxed)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.registry.lock();
        let id = self.slot.id;
        inner.waiting.retain(|s| s.id != id);
        if !self.slot.evicted.load(Ordering::Relaxed) {
            inner.open -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn conn(listener: &TcpListener) -> (Connection, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (Connection::from(server), client)
    }

    #[test]
    fn full_registry_closes_the_longest_waiting_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = Registry::new(2);
        let (a, mut a_client) = conn(&listener);
        let (b, _b_client) = conn(&listener);
        let ta = registry.admit(a).unwrap();
        let tb = registry.admit(b).unwrap();
        ta.waiting();
        tb.waiting();
        let (c, _c_client) = conn(&listener);
        let tc = registry.admit(c).unwrap();
        assert_eq!(registry.open(), 2);
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut a_client, &mut buf).unwrap(), 0);
        assert!(!ta.busy());
        assert!(tb.busy());
        drop(ta);
        assert_eq!(registry.open(), 2);
        drop((tb, tc));
        assert_eq!(registry.open(), 0);
    }

    #[test]
    fn full_registry_of_busy_connections_refuses() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let registry = Registry::new(1);
        let (a, _a_client) = conn(&listener);
        let ta = registry.admit(a).unwrap();
        assert!(ta.busy());
        let (b, _b_client) = conn(&listener);
        assert!(registry.admit(b).is_none());
        drop(ta);
        let (c, _c_client) = conn(&listener);
        assert!(registry.admit(c).is_some());
    }
}
