//! `std::hint`'s spin-loop hint, for code that switches between std and the simulator with
//! one `cfg`.

/// Inside a spin loop: a scheduling point that lets the other tasks run, and under the graph
/// strategy the loop's back-edge (see [`crate::thread::yield_now`], which it calls).
pub fn spin_loop() {
    super::thread::yield_now()
}
