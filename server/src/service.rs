//! The `ContactScoring` gRPC handlers. Each one is thin: check the caller's role for the admin
//! RPCs (`auth.rs`), validate and convert the request (`convert.rs`), call the engine, convert
//! the answer; errors become statuses in `status.rs`. Every call is timed and counted by code
//! in one place, [`observe`].

use contactscore_proto::v1;
use contactscore_proto::v1::contact_scoring_server::ContactScoring;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::require_admin;
use crate::config::Limits;
use crate::convert;
use crate::engine::{OutcomeReport, Reloaded};
use crate::error::{Result, ServerError};
use crate::store::Store;
use crate::telemetry::observe;

/// The service.
#[derive(Debug, Clone)]
pub struct Service {
    engine: Store,
    limits: Limits,
}

impl Service {
    /// A service over `engine`, the store of the live state.
    pub fn new(engine: Store, limits: Limits) -> Self {
        Self { engine, limits }
    }

    async fn rank_one(&self, req: v1::RankRequest) -> Result<v1::RankResponse> {
        let serving = self.engine.current()?;
        let now = jiff::Timestamp::now().as_second();
        let q = convert::rank_request(req, &serving, &self.limits, now)?;
        let person_id = q.person_id.clone();
        let ranking = self.engine.rank(&serving, q).await?;
        Ok(convert::rank_response(person_id, &serving.version, ranking))
    }

    /// One message of a RecordOutcomes stream, validated; the error names the message so the
    /// client can resend from it once fixed.
    fn outcome_message(
        &self,
        i: usize,
        msg: Result<v1::RecordOutcomeRequest, Status>,
    ) -> Result<OutcomeReport> {
        let req = msg.map_err(ServerError::Received)?;
        let serving = self.engine.current()?;
        let now = jiff::Timestamp::now().as_second();
        convert::outcome(req, &serving.normalizer, now)
            .map_err(|e| e.within(&format!("message #{i}")))
    }

    fn model_info(&self) -> v1::ModelInfo {
        let serving = self.engine.current().ok();
        convert::model_info(
            serving.as_deref(),
            self.engine.live_outcomes(),
            self.engine.last_failure(),
        )
    }
}

/// Time and count one RPC ([`observe`]) and wrap its answer.
async fn handle<T>(
    rpc: &'static str,
    work: impl Future<Output = Result<T>>,
) -> Result<Response<T>, Status> {
    observe(rpc, work).await.map(Response::new)
}

type RankStream = ReceiverStream<Result<v1::RankResponse, Status>>;

#[tonic::async_trait]
impl ContactScoring for Service {
    async fn rank(
        &self,
        request: Request<v1::RankRequest>,
    ) -> Result<Response<v1::RankResponse>, Status> {
        handle("Rank", self.rank_one(request.into_inner())).await
    }

    type RankStreamStream = RankStream;

    async fn rank_stream(
        &self,
        request: Request<Streaming<v1::RankRequest>>,
    ) -> Result<Response<RankStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let svc = self.clone();
        tokio::spawn(async move {
            let mut i = 0usize;
            while let Some(msg) = inbound.next().await {
                // Each message is timed as one RankStream call.
                let answer = observe("RankStream", async {
                    svc.rank_one(msg?).await.map_err(|e| {
                        // Name the failing message so a campaign list can be fixed.
                        let s = Status::from(e);
                        Status::with_details(
                            s.code(),
                            format!("request #{i}: {}", s.message()),
                            s.details().to_vec().into(),
                        )
                    })
                })
                .await;
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    break;
                }
                i += 1;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn record_outcome(
        &self,
        request: Request<v1::RecordOutcomeRequest>,
    ) -> Result<Response<v1::RecordOutcomeResponse>, Status> {
        handle("RecordOutcome", async {
            let serving = self.engine.current()?;
            let now = jiff::Timestamp::now().as_second();
            let o = convert::outcome(request.into_inner(), &serving.normalizer, now)?;
            drop(serving);
            let counts = self.engine.record(vec![o]).await?;
            Ok(v1::RecordOutcomeResponse {
                recorded: counts.recorded == 1,
            })
        })
        .await
    }

    async fn record_outcomes(
        &self,
        request: Request<Streaming<v1::RecordOutcomeRequest>>,
    ) -> Result<Response<v1::RecordOutcomesResponse>, Status> {
        handle("RecordOutcomes", async {
            let mut next = 0usize;
            let messages = request.into_inner().map(|msg| {
                next += 1;
                self.outcome_message(next - 1, msg)
            });
            // The engine makes them durable in batches and says where a stopped stream resumes.
            let c = self.engine.record_stream(messages).await?;
            Ok(v1::RecordOutcomesResponse {
                recorded: c.recorded,
                duplicates: c.duplicates,
            })
        })
        .await
    }

    async fn get_model_info(
        &self,
        _request: Request<v1::GetModelInfoRequest>,
    ) -> Result<Response<v1::ModelInfo>, Status> {
        handle("GetModelInfo", async { Ok(self.model_info()) }).await
    }

    async fn forget_person(
        &self,
        request: Request<v1::ForgetPersonRequest>,
    ) -> Result<Response<v1::ForgetPersonResponse>, Status> {
        handle("ForgetPerson", async {
            require_admin(&request, "ForgetPerson")?;
            let person = request.into_inner().person_id;
            let person = person.trim();
            if person.is_empty() {
                return Err(ServerError::invalid("person_id", "must not be empty"));
            }
            let existed = self.engine.forget(person).await?;
            tracing::info!(person = %crate::redact::person(person), existed, "person forgotten");
            Ok(v1::ForgetPersonResponse { existed })
        })
        .await
    }

    async fn record_consent(
        &self,
        request: Request<v1::RecordConsentRequest>,
    ) -> Result<Response<v1::RecordConsentResponse>, Status> {
        handle("RecordConsent", async {
            require_admin(&request, "RecordConsent")?;
            let serving = self.engine.current()?;
            let now = jiff::Timestamp::now().as_second();
            let c = convert::consent(request.into_inner(), &serving.normalizer, now)?;
            drop(serving);
            let (person, channel) = (crate::redact::person(&c.person_id), c.channel);
            let lifted = self.engine.consent(c).await?;
            tracing::info!(%person, channel = channel.as_str(), lifted, "re-consent recorded");
            Ok(v1::RecordConsentResponse { lifted })
        })
        .await
    }

    async fn record_validation(
        &self,
        request: Request<v1::RecordValidationRequest>,
    ) -> Result<Response<v1::RecordValidationResponse>, Status> {
        handle("RecordValidation", async {
            let serving = self.engine.current()?;
            let now = jiff::Timestamp::now().as_second();
            let v = convert::validation(request.into_inner(), &serving.normalizer, now)?;
            drop(serving);
            let (person, status) = (crate::redact::person(&v.person_id), v.status);
            let recorded = self.engine.validate(v).await?;
            tracing::info!(%person, status = status.as_str(), recorded, "carrier validation recorded");
            Ok(v1::RecordValidationResponse { recorded })
        })
        .await
    }

    async fn plan_campaign(
        &self,
        request: Request<v1::PlanCampaignRequest>,
    ) -> Result<Response<v1::PlanCampaignResponse>, Status> {
        handle("PlanCampaign", async {
            let serving = self.engine.current()?;
            let now = jiff::Timestamp::now().as_second();
            let valid = crate::plan::validate(request.into_inner(), &serving, &self.limits, now)?;
            let ids: Vec<String> = valid.person_ids().map(str::to_owned).collect();
            let fetched = self.engine.plan_states(&serving, &ids).await?;
            let policy = self.engine.policy().clone();
            // Seconds of scoring for a large list: off the async workers.
            tokio::task::spawn_blocking(move || crate::plan::run(&policy, &serving, valid, fetched))
                .await
                .map_err(|e| ServerError::Internal(format!("plan task: {e}")))?
        })
        .await
    }

    async fn reload_model(
        &self,
        request: Request<v1::ReloadModelRequest>,
    ) -> Result<Response<v1::ModelInfo>, Status> {
        handle("ReloadModel", async {
            require_admin(&request, "ReloadModel")?;
            // A failed load keeps the old version serving; the failure shows in the answer.
            let reloaded = self.engine.reload().await;
            if let Ok(Reloaded::NoVersion) = reloaded
                && self.engine.current().is_err()
            {
                return Err(ServerError::NoModel);
            }
            Ok(self.model_info())
        })
        .await
    }
}
