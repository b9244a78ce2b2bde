//! Durable, shared token state for fwtoken (work in progress).
