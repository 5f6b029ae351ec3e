//! The request size limit: a gRPC message longer than [`MAX_MESSAGE_BYTES`] is refused with
//! RESOURCE_EXHAUSTED, the code gRPC specifies for it, as soon as its length prefix arrives.
//!
//! Why here: tonic's own decoder refuses an oversized message with OUT_OF_RANGE, which clients
//! treat as a bad argument rather than a size limit. This layer wraps every request body, reads
//! the 5-byte prefix of each message (compression flag, big-endian length) as the bytes stream
//! by, and fails the body with the right status before tonic's decoder sees the prefix; tonic
//! passes a `Status` raised by the body through unchanged (to the unary handler's caller, or as
//! the failed item of a request stream). The messages before the oversized one are passed on
//! first, even when they share a data frame with its prefix, so a stream's earlier messages
//! are still handled (`RecordOutcomes` records them).
//!
//! One method may be given a larger limit ([`MessageLimitLayer::with_method`]): `PlanCampaign`
//! takes a whole campaign list (`max_request_mib`, 64 MiB by default), every other call keeps
//! [`MAX_MESSAGE_BYTES`].

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tonic::Status;

/// Errors of a request body (what tonic accepts from one).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Largest request message accepted (tonic's default decoding limit): far above any real
/// request (a Rank with 64 contacts is a few KB).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Wraps every request body of the service it layers in a [`LimitedBody`].
#[derive(Debug, Clone, Copy)]
pub struct MessageLimitLayer {
    limit: usize,
    /// A request path (`/package.Service/Method`) with its own limit.
    method: Option<(&'static str, usize)>,
}

impl MessageLimitLayer {
    /// A layer refusing messages over `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            method: None,
        }
    }

    /// The same, but messages to the method at `path` (`/package.Service/Method`) may be up to
    /// `limit` bytes.
    pub fn with_method(self, path: &'static str, limit: usize) -> Self {
        Self {
            method: Some((path, limit)),
            ..self
        }
    }
}

impl<S> tower_layer::Layer<S> for MessageLimitLayer {
    type Service = MessageLimit<S>;

    fn layer(&self, inner: S) -> MessageLimit<S> {
        MessageLimit {
            inner,
            limit: self.limit,
            method: self.method,
        }
    }
}

/// See [`MessageLimitLayer`].
#[derive(Debug, Clone)]
pub struct MessageLimit<S> {
    inner: S,
    limit: usize,
    method: Option<(&'static str, usize)>,
}

impl<S, B> tower_service::Service<http::Request<B>> for MessageLimit<S>
where
    S: tower_service::Service<http::Request<LimitedBody<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let limit = match self.method {
            Some((path, limit)) if req.uri().path() == path => limit,
            Some(_) | None => self.limit,
        };
        self.inner
            .call(req.map(|body| LimitedBody::new(body, limit)))
    }
}

/// A request body that fails with RESOURCE_EXHAUSTED at the prefix of a message over the limit.
#[derive(Debug)]
pub struct LimitedBody<B> {
    inner: B,
    scan: Scan,
    /// The error to fail with once the bytes before the oversized prefix have been passed on.
    failed: Option<Status>,
}

impl<B> LimitedBody<B> {
    fn new(inner: B, limit: usize) -> Self {
        Self {
            inner,
            scan: Scan {
                limit,
                prefix: [0; 5],
                have: 0,
                remaining: 0,
            },
            failed: None,
        }
    }
}

/// Where the body's bytes stand in the gRPC message framing.
#[derive(Debug)]
struct Scan {
    limit: usize,
    /// The prefix of the next message, as far as it has arrived.
    prefix: [u8; 5],
    have: usize,
    /// Bytes of the current message's body still to come.
    remaining: u64,
}

impl Scan {
    /// Follow the framing through `data`. On a prefix announcing a message over the limit,
    /// returns how many leading bytes of `data` come before that prefix (to pass on) and the
    /// status to fail with.
    fn feed(&mut self, data: &[u8]) -> Result<(), (usize, Status)> {
        let mut at = 0;
        while at < data.len() {
            if self.remaining > 0 {
                let rest = data.len() - at;
                let skip = rest.min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= skip as u64;
                at += skip;
                continue;
            }
            // The prefix starts here unless part of it came in an earlier chunk.
            let starts_at = if self.have == 0 { at } else { 0 };
            let take = (data.len() - at).min(self.prefix.len() - self.have);
            self.prefix[self.have..self.have + take].copy_from_slice(&data[at..at + take]);
            self.have += take;
            at += take;
            if self.have == self.prefix.len() {
                self.have = 0;
                let [_, a, b, c, d] = self.prefix;
                let len = u32::from_be_bytes([a, b, c, d]);
                if usize::try_from(len).map_or(true, |l| l > self.limit) {
                    let status = Status::resource_exhausted(format!(
                        "request message of {len} bytes is over the limit of {} bytes",
                        self.limit
                    ));
                    return Err((starts_at, status));
                }
                self.remaining = u64::from(len);
            }
        }
        Ok(())
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(status) = this.failed.take() {
            return Poll::Ready(Some(Err(Box::new(status))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err((before, status)) = this.scan.feed(data)
                {
                    if before == 0 {
                        return Poll::Ready(Some(Err(Box::new(status))));
                    }
                    this.failed = Some(status);
                    return Poll::Ready(Some(Ok(Frame::data(data.slice(..before)))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: u32) -> Vec<u8> {
        let mut f = vec![0u8];
        f.extend_from_slice(&len.to_be_bytes());
        f.extend(std::iter::repeat_n(7u8, len as usize));
        f
    }

    #[test]
    fn prefixes_are_read_across_chunk_boundaries() {
        let mut bytes = frame(10);
        bytes.extend(frame(0));
        bytes.extend(frame(100));
        let over = frame(101);
        // Fed one byte at a time, and all at once: the same verdicts.
        for chunk in [1, 3, bytes.len()] {
            let mut scan = LimitedBody::new((), 100).scan;
            for part in bytes.chunks(chunk) {
                scan.feed(part).expect("within the limit");
            }
            let (before, err) = over
                .chunks(chunk)
                .try_for_each(|part| scan.feed(part))
                .expect_err("over the limit");
            assert_eq!(before, 0);
            assert_eq!(err.code(), tonic::Code::ResourceExhausted);
            assert!(err.message().contains("101 bytes"), "{}", err.message());
        }
        // Sharing a chunk with the message before it: that message's bytes are passed on.
        let mut both = frame(10);
        both.extend(frame(101));
        let mut scan = LimitedBody::new((), 100).scan;
        let (before, _) = scan.feed(&both).expect_err("over the limit");
        assert_eq!(before, frame(10).len());
    }
}
