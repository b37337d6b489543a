'use strict'
// Errors: the stable codes (defined in Rust, src/error.rs, whose errors
// reach JS with their `name` and `code` already set), and the one place a
// serialized error `{ name, message, code, stack, ... }` (from a worker, an
// event or a reply) becomes a JS error, and a thrown value becomes one.

const { describe, hasOwn, toJSONValue } = require('./codec')

const CODES = [
  'INVALID_ARG', 'DUPLICATE_ID', 'MONGO_UNAVAILABLE', 'MONGO_CONFIG', 'MONGO', 'NO_PERSISTENT_QUEUE',
  'CLOSED', 'DISPATCHER_FAILED', 'WORKER_EXIT', 'TASK_TIMEOUT', 'TASK_CANCELLED', 'UNKNOWN_TASK_TYPE',
  'UNDECODABLE_DOCUMENT', 'MASTER_ONLY', 'NOT_FOUND', 'DOCUMENT_TOO_LARGE'
]

/** `{ INVALID_ARG: 'ERR_INVALID_ARG', ... }` (checked against the addon's list by __test__/wire.test.mjs). */
const codes = Object.freeze(Object.fromEntries(CODES.map((code) => [code, `ERR_${code}`])))

/** A TypeError for a bad argument, with its code. */
function invalidArg (message) {
  const error = new TypeError(message)
  error.code = codes.INVALID_ARG
  return error
}

/** A thrown value as `{ name, message, stack, code, ...its own fields }`, as EJSON JSON text. */
function encodeError (error) {
  const plain = { name: 'Error', message: '', stack: '' }
  const carry = (key, value) => {
    try {
      const json = toJSONValue(value, key, { seen: new Set(), escaped: false })
      if (json !== undefined) plain[key] = json
    } catch {
      // a field that cannot be carried is left out; the message stays
    }
  }
  try {
    if (error instanceof Error) {
      for (const key of Object.keys(error)) {
        if (key !== 'name' && key !== 'message' && key !== 'stack') carry(key, error[key])
      }
      if (error.code !== undefined && !hasOwn(plain, 'code')) carry('code', error.code)
      plain.name = String(error.name)
      plain.message = String(error.message)
      plain.stack = typeof error.stack === 'string' ? error.stack : ''
    } else {
      plain.message = String(error)
      carry('value', error)
    }
  } catch {
    // a getter that throws, or a value String() refuses: say what it was
    if (!plain.message) plain.message = `a thrown ${describe(error)}`
  }
  return JSON.stringify(plain)
}

const ERROR_CLASSES = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError }

/**
 * The one place a serialized error `{ name, message, code, stack, ... }`
 * becomes an Error: of the builtin class its name says (else Error), with
 * every field as an own property. A non-empty `stack` replaces the local one.
 */
function errorFrom (value) {
  if (value instanceof Error) return value
  const fields = value !== null && typeof value === 'object' ? value : { message: value === undefined ? '' : String(value) }
  const message = fields.message === undefined || fields.message === null ? '' : String(fields.message)
  const name = typeof fields.name === 'string' && fields.name ? fields.name : 'Error'
  const Class = hasOwn(ERROR_CLASSES, name) ? ERROR_CLASSES[name] : Error
  const error = new Class(message)
  error.name = name
  for (const key of Object.keys(fields)) {
    if (key === 'message' || key === 'name') continue
    if (key === 'stack') {
      if (typeof fields.stack === 'string' && fields.stack) error.stack = fields.stack
    } else {
      error[key] = fields[key]
    }
  }
  return error
}

module.exports = { codes, invalidArg, encodeError, errorFrom }
