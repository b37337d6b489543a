'use strict'
// OpenTelemetry, when the app has `@opentelemetry/api` (an optional peer
// dependency): an add made inside an active span gets a span of its own,
// `meteor-cluster add <taskType>`, whose context travels with the task
// (injected with the app's global propagator: a W3C `traceparent`, kept in
// a persistent task's document), and the worker runs the task function
// inside `meteor-cluster run <taskType>`, a child of it. Without the API,
// or outside a span, nothing here does anything.
//
// Attributes follow OpenTelemetry's messaging conventions where they fit
// (`messaging.system`, `messaging.operation.type` send/process,
// `messaging.operation.name`, `messaging.destination.name` = the task
// type, `messaging.message.id`), plus ours: `meteor_cluster.task.id`,
// `meteor_cluster.task.type`, `meteor_cluster.task.attempt`,
// `meteor_cluster.queue`, `meteor_cluster.worker.id`.

const SYSTEM = 'meteor-cluster'

/**
 * Where the API (1.x) keeps what an app registers with it: a context
 * manager, a tracer provider, a propagator. Until something is there, no
 * span can be active and no carrier read, so the API is not loaded (a
 * `require` of it took 10-30 ms of the first add, and of the first task of
 * a cold pool).
 */
const REGISTERED = Symbol.for('opentelemetry.js.api.1')

/** The API, looked up once the app has registered with it (`null` when it is not there). */
let api
function otel () {
  if (api === undefined) {
    if (globalThis[REGISTERED] === undefined) return null
    try {
      api = require('@opentelemetry/api')
    } catch {
      api = null
    }
  }
  return api
}

/**
 * When an add is made inside an active span: its own span, ended at once,
 * and the carrier of its context for the task, as JSON text. Else null.
 */
function traceAdd (taskType, queue, id) {
  const o = otel()
  if (o === null) return null
  const parent = o.context.active()
  if (o.trace.getSpan(parent) === undefined) return null
  const tracer = o.trace.getTracer(SYSTEM)
  const attributes = {
    'messaging.system': SYSTEM,
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'add',
    'messaging.destination.name': taskType,
    'meteor_cluster.task.type': taskType,
    'meteor_cluster.queue': queue
  }
  if (id !== null) {
    attributes['messaging.message.id'] = id
    attributes['meteor_cluster.task.id'] = id
  }
  const span = tracer.startSpan(`${SYSTEM} add ${taskType}`, { kind: o.SpanKind.PRODUCER, attributes }, parent)
  const carrier = {}
  o.propagation.inject(o.trace.setSpan(parent, span), carrier)
  span.end()
  return JSON.stringify(carrier)
}

/**
 * Runs `fn()` (a task function's call) inside its run span when its task
 * was traced (`traced`: its row's extra, `{ attempt, queue, carrier }`), the
 * span ended with the outcome; else just runs it.
 */
function runTraced (traced, job, workerId, fn) {
  const o = traced === undefined || traced.carrier === undefined ? null : otel()
  if (o === null) return fn()
  const parent = o.propagation.extract(o.ROOT_CONTEXT, traced.carrier)
  const span = o.trace.getTracer(SYSTEM).startSpan(`${SYSTEM} run ${job.taskType}`, {
    kind: o.SpanKind.CONSUMER,
    attributes: {
      'messaging.system': SYSTEM,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'run',
      'messaging.destination.name': job.taskType,
      'messaging.message.id': job._id,
      'meteor_cluster.task.id': job._id,
      'meteor_cluster.task.type': job.taskType,
      'meteor_cluster.task.attempt': traced.attempt,
      'meteor_cluster.queue': traced.queue,
      'meteor_cluster.worker.id': workerId
    }
  }, parent)
  const failed = (error) => {
    span.recordException(error instanceof Error ? error : { name: 'Error', message: String(error) })
    span.setStatus({ code: o.SpanStatusCode.ERROR, message: error && error.message ? String(error.message) : String(error) })
  }
  let result
  try {
    result = o.context.with(o.trace.setSpan(parent, span), fn)
  } catch (error) {
    failed(error)
    span.end()
    throw error
  }
  if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
    return Promise.resolve(result).then(
      (value) => { span.end(); return value },
      (error) => { failed(error); span.end(); throw error }
    )
  }
  span.end()
  return result
}

module.exports = { traceAdd, runTraced }
