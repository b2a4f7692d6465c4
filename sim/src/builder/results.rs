//! Shard result files (to come).
