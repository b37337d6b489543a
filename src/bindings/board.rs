//! The `Board` class: the dashboard's reads and actions (`board::Board`)
//! on the addon's runtime, each call a Promise of JSON text.

use crate::board;
use crate::error::CodedError;
use crate::throw;
use crate::wire::board::BoardOp;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

/// A dashboard's view of one queue collection (and its masters' registry).
#[napi]
pub struct Board {
    inner: Arc<board::Board>,
}

#[napi]
impl Board {
    /// Checks the URL (it must name a database); connects on the first call.
    #[napi(constructor)]
    pub fn new(env: Env, mongo_url: String, collection_name: String) -> Result<Self> {
        let inner = board::Board::new(mongo_url, collection_name).map_err(|e| throw(&env, e))?;
        Ok(Board {
            inner: Arc::new(inner),
        })
    }

    /// Runs `op` (one of `BOARD_OPS` in `lib/wire.js`) with `args` (JSON);
    /// resolves with its answer or its error, as `wire::board::answer`
    /// writes them. An unknown op throws at once.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn call<'env>(&self, env: &'env Env, op: String, args: String) -> Result<Object<'env>> {
        let op = BoardOp::parse(&op).ok_or_else(|| {
            throw(
                env,
                CodedError::invalid(format!("unknown dashboard call {op:?}")),
            )
        })?;
        let runtime = crate::bindings::master::RUNTIME
            .as_ref()
            .map_err(|e| Error::new(Status::GenericFailure, format!("no tokio runtime: {e}")))?;
        let (deferred, promise) = env.create_deferred::<String, _>()?;
        let inner = self.inner.clone();
        runtime.spawn(async move {
            let answer = crate::wire::board::answer(inner.call(op, &args).await);
            deferred.resolve(move |_| Ok(answer));
        });
        Ok(promise)
    }
}
