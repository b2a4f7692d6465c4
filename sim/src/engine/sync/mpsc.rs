//! Simulated `std::sync::mpsc` channels, built from the simulated [`Mutex`] and
//! [`Condvar`]: a queue under a mutex, one condition variable for "an item (or the last
//! sender's end) arrived" and one for "room (or the receiver's end) came". Every operation is
//! made of their scheduling points, so the simulator explores the channels' interleavings, and
//! the mutex orders what a sender did before `send` before what the receiver does after
//! `recv`. The errors are `std`'s own types.

use super::{Condvar, Mutex, MutexGuard};
use crate::engine::rt;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver: bool,
    /// Receivers asleep in `recv` (a rendezvous `try_send` hands over to one).
    waiting: usize,
    /// Items sent and taken so far (a rendezvous send waits for its item to be taken).
    sent: u64,
    taken: u64,
}

struct Chan<T> {
    state: Mutex<State<T>>,
    /// An item, or the last sender's end.
    ready: Condvar,
    /// Room in a bounded queue, an item taken, or the receiver's end.
    space: Condvar,
    /// `None`: unbounded; `Some(0)`: a rendezvous.
    bound: Option<usize>,
}

impl<T> Chan<T> {
    fn new(bound: Option<usize>) -> Arc<Chan<T>> {
        Arc::new(Chan {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                senders: 1,
                receiver: true,
                waiting: 0,
                sent: 0,
                taken: 0,
            }),
            ready: Condvar::new(),
            space: Condvar::new(),
            bound,
        })
    }

    #[track_caller]
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, s: &mut State<T>, t: T) -> u64 {
        s.queue.push_back(t);
        s.sent += 1;
        s.sent - 1
    }

    fn add_sender(&self) {
        if rt::in_task() {
            self.lock().senders += 1;
        }
    }

    fn drop_sender(&self) {
        if rt::in_task() {
            let mut s = self.lock();
            s.senders -= 1;
            let last = s.senders == 0;
            drop(s);
            if last {
                self.ready.notify_all();
            }
        }
    }
}

/// Sends on an unbounded channel ([`channel`]).
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// Sends on a bounded channel ([`sync_channel`]): waits while it is full.
pub struct SyncSender<T> {
    chan: Arc<Chan<T>>,
}

/// Receives from a channel.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// An unbounded channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Chan::new(None);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// A channel holding at most `bound` items; with 0, each send waits for its item to be
/// received (a rendezvous).
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = Chan::new(Some(bound));
    (SyncSender { chan: chan.clone() }, Receiver { chan })
}

impl<T> Sender<T> {
    /// Send `t`; an error (giving it back) if the receiver is gone.
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        let c = &self.chan;
        let mut s = c.lock();
        if !s.receiver {
            return Err(SendError(t));
        }
        c.push(&mut s, t);
        drop(s);
        c.ready.notify_one();
        Ok(())
    }
}

impl<T> SyncSender<T> {
    /// Send `t`, waiting while the channel is full (and, for a rendezvous, until it is
    /// received); an error (giving it back) if the receiver is gone.
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        let c = &self.chan;
        let room = c.bound.unwrap_or(usize::MAX).max(1);
        let mut s = c.lock();
        while s.receiver && s.queue.len() >= room {
            s = c.space.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if !s.receiver {
            return Err(SendError(t));
        }
        let mine = c.push(&mut s, t);
        c.ready.notify_one();
        if c.bound == Some(0) {
            while s.receiver && s.taken <= mine {
                s = c.space.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.taken <= mine {
                // The receiver left without taking it: it is still queued, at its place.
                let at = (mine - s.taken) as usize;
                if let Some(t) = s.queue.remove(at) {
                    return Err(SendError(t));
                }
            }
        }
        Ok(())
    }

    /// Send `t` if there is room now (for a rendezvous: if a receiver is waiting).
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        let c = &self.chan;
        let mut s = c.lock();
        if !s.receiver {
            return Err(TrySendError::Disconnected(t));
        }
        let room = match c.bound {
            Some(0) => s.waiting > s.queue.len(),
            Some(b) => s.queue.len() < b,
            None => true,
        };
        if !room {
            return Err(TrySendError::Full(t));
        }
        c.push(&mut s, t);
        drop(s);
        c.ready.notify_one();
        Ok(())
    }
}

impl<T> Receiver<T> {
    /// Wait for an item; an error once every sender is gone and the queue is empty.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// An item if one is queued now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let c = &self.chan;
        let mut s = c.lock();
        match s.queue.pop_front() {
            Some(t) => {
                s.taken += 1;
                drop(s);
                c.space.notify_all();
                Ok(t)
            }
            None if s.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// [`Receiver::recv`] for at most `dur` of virtual time.
    #[track_caller]
    pub fn recv_timeout(&self, dur: Duration) -> Result<T, RecvTimeoutError> {
        let until = rt::now_ns().saturating_add(rt::duration_ns(dur));
        self.recv_until(Some(until))
    }

    #[track_caller]
    fn recv_until(&self, until_ns: Option<i64>) -> Result<T, RecvTimeoutError> {
        let c = &self.chan;
        let mut s = c.lock();
        loop {
            if let Some(t) = s.queue.pop_front() {
                s.taken += 1;
                drop(s);
                c.space.notify_all();
                return Ok(t);
            }
            if s.senders == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            s.waiting += 1;
            s = match until_ns {
                None => c.ready.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(u) => {
                    let left = u.saturating_sub(rt::now_ns());
                    if left <= 0 {
                        s.waiting -= 1;
                        return Err(RecvTimeoutError::Timeout);
                    }
                    let d = Duration::from_nanos(left as u64);
                    c.ready
                        .wait_timeout(s, d)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            s.waiting -= 1;
        }
    }

    /// The items, waiting for each, until every sender is gone.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// The items queued now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

/// [`Receiver::iter`].
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// [`Receiver`]'s `into_iter`.
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        SyncSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if rt::in_task() {
            let c = &self.chan;
            c.lock().receiver = false;
            c.space.notify_all();
        }
    }
}

macro_rules! opaque_debug {
    ($($t:ident),*) => {$(
        impl<T> std::fmt::Debug for $t<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    )*};
}
opaque_debug!(Sender, SyncSender, Receiver);
