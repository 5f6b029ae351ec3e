//! How error messages echo a value: quoted like `{:?}`, and cut after [`MAX_QUOTED_CHARS`]
//! characters with `…` and the value's length. Why: a message that repeats a 1 MB cell drowns the
//! terminal, and a gRPC error that repeats a 100 KB field no longer fits in the response's
//! metadata, so the caller sees RESOURCE_EXHAUSTED instead of the INVALID_ARGUMENT that names the
//! field. Every echo of a caller's value (trainer and server) goes through [`quote`].

use std::fmt;

/// The most characters of a value an error message repeats.
pub const MAX_QUOTED_CHARS: usize = 64;

/// A value as error messages show it (see [`quote`]).
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(&'a str);

/// `value` quoted for an error message: `"+55 11 9…"`-style, at most [`MAX_QUOTED_CHARS`]
/// characters of it, then `…` and its length in bytes when it is longer.
pub fn quote(value: &str) -> Quoted<'_> {
    Quoted(value)
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_QUOTED_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}… ({} bytes)", &self.0[..cut], self.0.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_long_ones_cut_with_their_length() {
        assert_eq!(quote("Mars/Base").to_string(), "\"Mars/Base\"");
        assert_eq!(quote("a\"b").to_string(), "\"a\\\"b\"");
        let exact = "x".repeat(MAX_QUOTED_CHARS);
        assert_eq!(quote(&exact).to_string(), format!("{exact:?}"));
        let long = "é".repeat(100_000);
        let shown = quote(&long).to_string();
        assert_eq!(
            shown,
            format!("{:?}… (200000 bytes)", "é".repeat(MAX_QUOTED_CHARS))
        );
        assert!(shown.len() < 200);
    }
}
