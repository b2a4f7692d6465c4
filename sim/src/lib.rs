//! netpoll-sim: the deterministic simulator (see issue 3).
