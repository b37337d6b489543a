'use strict'
// The stable `code` of every failed TaskQueue call, in one place.
//
// The collection calls' own failures come from src/master/calls.rs with
// their code at the end of the message (" [ERR_...]"); this takes it off
// and sets `error.code`. The other failures (addTask's, the persistent
// queue's configuration) are still plain messages from the core, read here
// by their wording, until the core's replies carry a code of their own.

const codes = Object.freeze({
  /** A bad argument: a task field, a selector, a modifier, an option, a callback. */
  INVALID_ARG: 'ERR_INVALID_ARG',
  /** A task (or document) with this `_id` already exists. */
  DUPLICATE_ID: 'ERR_DUPLICATE_ID',
  /** The MongoDB server could not be reached (a persistent call waits about 5 s for it). */
  MONGO_UNAVAILABLE: 'ERR_MONGO_UNAVAILABLE',
  /** There is no persistent queue: `inMemoryOnly`, no `MONGO_URL`, or a URL that cannot be used. */
  NO_PERSISTENT_QUEUE: 'ERR_NO_PERSISTENT_QUEUE',
  /** MongoDB refused or failed the operation for another reason (its message says why). */
  MONGO: 'ERR_MONGO',
  /** The master's dispatcher has stopped (after `close()`, or the master is gone). */
  CLUSTER_STOPPED: 'ERR_CLUSTER_STOPPED',
  /** Anything else: a bug of ours; the message says what. */
  INTERNAL: 'ERR_INTERNAL'
})

const KNOWN = new Set(Object.values(codes))
const TAG = / \[(ERR_[A-Z_]+)\]$/

/** The core's messages that carry no tag yet, by wording. */
const WORDINGS = [
  [/already exists/, codes.DUPLICATE_ID],
  [/inMemoryOnly|needs MongoDB: set MONGO_URL|invalid MongoDB URL|names no database|mongodb\+srv/, codes.NO_PERSISTENT_QUEUE],
  [/Server selection timeout|No available servers|Connection refused|connection (?:closed|reset)|timed out|I\/O error|pool .*cleared/i, codes.MONGO_UNAVAILABLE],
  [/dispatcher has stopped|channel to the master/, codes.CLUSTER_STOPPED],
  [/MongoDB/, codes.MONGO]
]

/**
 * Gives a failed call's error its stable `code` (and takes the core's tag
 * off its message). Returns the same error.
 */
function withCode (error) {
  if (error === null || typeof error !== 'object') return error
  const message = typeof error.message === 'string' ? error.message : ''
  const tagged = TAG.exec(message)
  if (tagged && KNOWN.has(tagged[1])) {
    const clean = message.slice(0, tagged.index)
    if (typeof error.stack === 'string') error.stack = error.stack.replace(message, clean)
    error.message = clean
    error.code = tagged[1]
    return error
  }
  // Ours already (a TypeError of the facade), or one the core set properly.
  if (KNOWN.has(error.code)) return error
  const found = WORDINGS.find(([wording]) => wording.test(message))
  error.code = found ? found[1] : codes.INTERNAL
  return error
}

/** A TypeError for a bad argument, with its code. */
function invalidArg (message) {
  const error = new TypeError(message)
  error.code = codes.INVALID_ARG
  return error
}

module.exports = { codes, withCode, invalidArg }
