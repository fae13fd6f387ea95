//! Redis-backed KvStore.
