'use strict'
// The stable error codes, defined once in Rust (src/error.rs) and read from
// the addon, with the `name` of the JS error each becomes. JS errors are made
// of coded ones in one place: `errorFrom` in lib/codec.js.

const binding = require('./binding')

/** `{ code: name }`, e.g. `{ ERR_WORKER_EXIT: 'WorkerExitError' }`. */
const names = Object.freeze(JSON.parse(binding.errorNames()))

/** `{ INVALID_ARG: 'ERR_INVALID_ARG', ... }`. */
const codes = Object.freeze(Object.fromEntries(Object.keys(names).map((code) => [code.replace(/^ERR_/, ''), code])))

/** A TypeError for a bad argument, with its code. */
function invalidArg (message) {
  const error = new TypeError(message)
  error.code = codes.INVALID_ARG
  return error
}

module.exports = { codes, names, invalidArg }
