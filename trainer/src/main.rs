//! The `contactscore-trainer` command line.
fn main() {}
