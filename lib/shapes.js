'use strict'
// The shapes tasks and errors take on the wire, and back: a task row or
// document becomes the object task functions and listeners get; a thrown
// value becomes a serialized error, and a serialized error an Error.

const { describe, hasOwn, toJSONValue } = require('./codec')

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

/**
 * A task from the row runs and outcome events carry it in (`Task::to_row`
 * in src/task.rs): `[_id, taskType, priority, createdAt, dueDate -
 * createdAt, data, onGoing]`, its data already decoded. Anything else (a
 * document that could not be read) is the object it was.
 */
function taskFromRow (row) {
  if (!Array.isArray(row)) return row
  return newTask(row[0], row[1], row[2], row[3], row[3] + row[4], row[5], row[6])
}

/** A task as task functions and listeners get it (one shape for every task object). */
function newTask (_id, taskType, priority, createdAt, dueDate, data, onGoing) {
  return { _id, taskType, priority, createdAt: new Date(createdAt), dueDate: new Date(dueDate), data, onGoing }
}

/** Task fields as JS sees them: Dates, not milliseconds. */
function taskFromWire (task) {
  task.createdAt = new Date(task.createdAt)
  task.dueDate = new Date(task.dueDate)
  return task
}

module.exports = { encodeError, errorFrom, newTask, taskFromRow, taskFromWire }
