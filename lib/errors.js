'use strict'
// The stable error codes, defined once in Rust (src/error.rs) and read from
// the addon, with the `name` of the JS error each becomes. JS errors are made
// of coded ones in one place: `errorFrom` in lib/codec.js.

const CODES = [
  'INVALID_ARG', 'DUPLICATE_ID', 'MONGO_UNAVAILABLE', 'MONGO_CONFIG', 'MONGO', 'NO_PERSISTENT_QUEUE',
  'CLOSED', 'DISPATCHER_FAILED', 'WORKER_EXIT', 'TASK_TIMEOUT', 'UNKNOWN_TASK_TYPE',
  'UNDECODABLE_DOCUMENT', 'MASTER_ONLY'
]

/** `{ INVALID_ARG: 'ERR_INVALID_ARG', ... }` (checked against the addon's list by a test). */
const codes = Object.freeze(Object.fromEntries(CODES.map((code) => [code, `ERR_${code}`])))

let namesByCode = null

/** `{ code: name }`, e.g. `{ ERR_WORKER_EXIT: 'WorkerExitError' }`, from the addon (loaded on first use). */
function names () {
  if (namesByCode === null) namesByCode = Object.freeze(JSON.parse(require('./binding').errorNames()))
  return namesByCode
}

/** A TypeError for a bad argument, with its code. */
function invalidArg (message) {
  const error = new TypeError(message)
  error.code = codes.INVALID_ARG
  return error
}

module.exports = { codes, names, invalidArg }
