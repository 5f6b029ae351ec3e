//! The one place where server errors become gRPC statuses. The match is exhaustive, so a new
//! error variant cannot ship without deciding its code. Internal failures go out with a generic
//! message; their details go to the log only.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::ServerError;

impl From<ServerError> for Status {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::InvalidArgument { field, reason } => {
                let message = format!("{field}: {reason}");
                let details = ErrorDetails::with_bad_request_violation(field, reason);
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServerError::NotFound(what) => Status::not_found(what),
            ServerError::NoModel => Status::unavailable(ServerError::NoModel.to_string()),
            ServerError::Unauthenticated => {
                Status::unauthenticated(ServerError::Unauthenticated.to_string())
            }
            e @ (ServerError::Models(_)
            | ServerError::Io { .. }
            | ServerError::CorruptState { .. }
            | ServerError::Config(_)) => {
                tracing::error!(error = %e, "internal error");
                Status::internal("internal error (details in the server log)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_arguments_name_the_field_in_message_and_details() {
        let s =
            Status::from(ServerError::invalid("timezone", "unknown zone").within("contacts[1]"));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "contacts[1].timezone: unknown zone");
        let details = s.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations[0].field, "contacts[1].timezone");
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let e = ServerError::io("/secret/path", std::io::Error::other("disk on fire"));
        let s = Status::from(e);
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("secret"));
    }
}
