//! The `fwtoken` command (being moved here from `examples/fwtoken`).
fn main() {}
