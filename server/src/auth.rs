//! Who may call what. The interceptor checks `authorization: Bearer <token>` on every call of the
//! `ContactScoring` service and records the caller's [`Role`] in the request's extensions; the
//! handlers of the admin RPCs (`ForgetPerson`, `ReloadModel`, `RecordConsent`, which erases
//! data, changes the served model, or lifts an opt-out) then require [`Role::Admin`].
//!
//! Why two tokens: the dialer's token sits in every dialer and campaign tool; a leaked one must
//! not be enough to erase people, lift opt-outs or reload models. With no admin token configured
//! every authenticated caller is admin, as before. Tokens are compared in constant time.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::error::{Result, ServerError};

/// What the caller's token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Ranking, planning (`PlanCampaign`, read-only like `Rank`), reporting outcomes and
    /// validations.
    Client,
    /// Everything, including the admin RPCs.
    Admin,
}

/// The token check of the `ContactScoring` service.
#[derive(Debug, Clone, Default)]
pub struct TokenCheck {
    /// The ordinary bearer token (`None` = no token needed for ordinary calls).
    pub bearer: Option<Arc<str>>,
    /// The admin token (`None` = every caller allowed in is admin).
    pub admin: Option<Arc<str>>,
}

fn matches(given: Option<&str>, expected: &str) -> bool {
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}

impl TokenCheck {
    /// The role of a caller presenting `given` (the bearer token, if any).
    pub fn role(&self, given: Option<&str>) -> Result<Role> {
        if let Some(admin) = &self.admin
            && matches(given, admin)
        {
            return Ok(Role::Admin);
        }
        let allowed = self.bearer.as_deref().is_none_or(|b| matches(given, b));
        match (allowed, &self.admin) {
            (false, _) => Err(ServerError::Unauthenticated),
            (true, None) => Ok(Role::Admin),
            (true, Some(_)) => Ok(Role::Client),
        }
    }
}

impl Interceptor for TokenCheck {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let given = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let role = self.role(given)?;
        req.extensions_mut().insert(role);
        Ok(req)
    }
}

/// `Ok` when the caller of `req` may call admin RPC `rpc`.
pub fn require_admin<T>(req: &Request<T>, rpc: &'static str) -> Result<()> {
    match req.extensions().get::<Role>() {
        Some(Role::Admin) => Ok(()),
        // No role: the interceptor did not run, so nothing was checked.
        Some(Role::Client) | None => Err(ServerError::PermissionDenied(rpc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bearer: Option<&str>, admin: Option<&str>) -> TokenCheck {
        TokenCheck {
            bearer: bearer.map(Arc::from),
            admin: admin.map(Arc::from),
        }
    }

    #[test]
    fn roles_follow_the_tokens() {
        let both = check(Some("dialer"), Some("root"));
        assert_eq!(both.role(Some("root")).ok(), Some(Role::Admin));
        assert_eq!(both.role(Some("dialer")).ok(), Some(Role::Client));
        assert!(both.role(Some("dialerx")).is_err());
        assert!(both.role(None).is_err());

        let admin_only = check(None, Some("root"));
        assert_eq!(admin_only.role(None).ok(), Some(Role::Client));
        assert_eq!(admin_only.role(Some("root")).ok(), Some(Role::Admin));

        let bearer_only = check(Some("dialer"), None);
        assert_eq!(bearer_only.role(Some("dialer")).ok(), Some(Role::Admin));
        assert!(bearer_only.role(Some("root")).is_err());
        assert_eq!(check(None, None).role(None).ok(), Some(Role::Admin));

        let mut req = Request::new(());
        assert!(
            require_admin(&req, "ForgetPerson").is_err(),
            "no role, no admin"
        );
        req.extensions_mut().insert(Role::Client);
        let err = require_admin(&req, "ForgetPerson").expect_err("client");
        assert!(err.to_string().contains("ForgetPerson"), "{err}");
        req.extensions_mut().insert(Role::Admin);
        assert!(require_admin(&req, "ForgetPerson").is_ok());
    }
}
