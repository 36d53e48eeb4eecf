//! Where queries run: a tokio runtime of their own, whose threads have stacks deep enough for
//! the deepest expression the dialect accepts, with a set number of slots for running queries
//! and a bounded queue for those waiting. Writes and the HTTP front run elsewhere, so a heavy
//! query slows them only by the CPU it shares.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Handle, Runtime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::QueryLimits;
use super::limits::QUERY_THREAD_STACK;
use crate::engine::error::{ApiError, ApiResult};

/// The query runtime, its slots and its queue.
pub struct QueryRunner {
    runtime: Option<Runtime>,
    slots: Arc<Semaphore>,
    /// Queries admitted and not yet ended: planning, waiting for a slot, or running.
    admitted: Arc<AtomicUsize>,
    /// The limits it runs queries under.
    pub limits: QueryLimits,
}

impl std::fmt::Debug for QueryRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRunner")
            .field("admitted", &self.admitted.load(Ordering::Relaxed))
            .field("limits", &self.limits)
            .finish()
    }
}

/// A query's place among those admitted; given back when dropped.
#[derive(Debug)]
pub struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl QueryRunner {
    /// A runner with one worker thread per CPU (at least two).
    pub fn new(limits: QueryLimits) -> std::io::Result<Self> {
        let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get).max(2);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("ruuvistream-query")
            .thread_stack_size(QUERY_THREAD_STACK)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            admitted: Arc::new(AtomicUsize::new(0)),
            limits,
        })
    }

    fn handle(&self) -> &Handle {
        self.runtime.as_ref().map(Runtime::handle).expect("the runtime lives as long as the runner")
    }

    /// Admits one more query, or refuses it with ThrottlingException when every slot and
    /// every place in the queue is taken.
    pub fn admit(&self) -> ApiResult<Admitted> {
        let most = self.limits.concurrency.max(1) + self.limits.queue;
        let taken = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admitted = Admitted(self.admitted.clone());
        if taken >= most {
            return Err(ApiError::throttling(format!(
                "The engine is running {} queries and {} more are waiting, its limit; try again shortly.",
                self.limits.concurrency, self.limits.queue
            )));
        }
        Ok(admitted)
    }

    /// Runs `future` on the query runtime.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn(future)
    }

    /// Waits for a slot to run a query in; the slot is free again when the permit drops.
    pub async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// Runs `f` on a query thread (deep stack) and waits for its answer.
    pub async fn on_query_thread<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        self.spawn(async move { f() }).await.map_err(|e| {
            ApiError::new(crate::engine::ApiErrorKind::InternalServer, format!("the query thread failed: {e}"))
        })
    }
}

impl Drop for QueryRunner {
    fn drop(&mut self) {
        // Without blocking: the engine may be dropped from inside another runtime's task.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
