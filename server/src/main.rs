//! `contactscore-server`: placeholder binary until the server issue; it exits with a clear message
//! rather than pretending to serve.

fn main() {
    eprintln!(
        "contactscore-server is not built yet (see the server issue); use contactscore-trainer"
    );
    std::process::exit(2);
}
