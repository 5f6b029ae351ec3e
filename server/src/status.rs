//! The one place where server errors become gRPC statuses. The match is exhaustive, so a new
//! error variant cannot ship without deciding its code. Internal failures go out with a generic
//! message; their details go to the log only.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::ServerError;

/// `ErrorInfo.domain` of the details this server attaches.
pub const DOMAIN: &str = "contactscore.v1";
/// `ErrorInfo.reason` of a `RecordOutcomes` stream that stopped early; its metadata holds
/// `resume_from`, `recorded` and `duplicates`.
pub const STREAM_STOPPED: &str = "RECORD_OUTCOMES_STOPPED";

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
            e @ ServerError::PermissionDenied(_) => Status::permission_denied(e.to_string()),
            ServerError::Received(status) => status,
            e @ ServerError::StoreUnavailable(_) => {
                // Logged at warn where it arose (store/redis); once per call here only in debug.
                tracing::debug!(error = %e, "state store unavailable");
                Status::unavailable(
                    "state store unavailable; retry (nothing was answered from partial state, \
                     nothing unconfirmed was acknowledged)",
                )
            }
            ServerError::StreamStopped {
                error,
                resume_from,
                recorded,
                duplicates,
            } => {
                let inner = Status::from(*error);
                let message = format!(
                    "{} (the {resume_from} messages before it are recorded: {recorded} new, \
                     {duplicates} already recorded; resend from message #{resume_from})",
                    inner.message()
                );
                let mut details = inner.get_error_details();
                let metadata = HashMap::from([
                    ("resume_from".to_owned(), resume_from.to_string()),
                    ("recorded".to_owned(), recorded.to_string()),
                    ("duplicates".to_owned(), duplicates.to_string()),
                ]);
                details.set_error_info(STREAM_STOPPED, DOMAIN, metadata);
                Status::with_error_details(inner.code(), message, details)
            }
            e @ (ServerError::Models(_)
            | ServerError::Io { .. }
            | ServerError::Listen { .. }
            | ServerError::CorruptState { .. }
            | ServerError::Config(_)
            | ServerError::StateDirInUse { .. }
            | ServerError::Internal(_)) => {
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
    fn a_stopped_stream_keeps_the_cause_and_says_where_to_resume() {
        let cause = ServerError::invalid("channel", "unknown").within("message #7.outcome");
        let s = Status::from(ServerError::StreamStopped {
            error: Box::new(cause),
            resume_from: 7,
            recorded: 5,
            duplicates: 2,
        });
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(
            s.message()
                .starts_with("message #7.outcome.channel: unknown")
                && s.message().contains("resend from message #7"),
            "{}",
            s.message()
        );
        let details = s.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, STREAM_STOPPED);
        assert_eq!(
            info.metadata.get("resume_from").map(String::as_str),
            Some("7")
        );
        assert_eq!(info.metadata.get("recorded").map(String::as_str), Some("5"));
        let bad = details.bad_request().expect("the field is still named");
        assert_eq!(bad.field_violations[0].field, "message #7.outcome.channel");

        let s = Status::from(ServerError::StreamStopped {
            error: Box::new(ServerError::Internal("disk".into())),
            resume_from: 512,
            recorded: 512,
            duplicates: 0,
        });
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("disk"), "{}", s.message());
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let e = ServerError::io("/secret/path", std::io::Error::other("disk on fire"));
        let s = Status::from(e);
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("secret"));
    }
}
