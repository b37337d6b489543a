'use strict'
// How values cross between processes: JSON, with Dates as {"$date": ms}
// (objects that really have a "$date" or "$escape" key are wrapped in
// {"$escape": ...}, as Meteor's EJSON does). Values JSON would silently
// drop or mangle are refused with a TypeError naming where they are.

function describe (value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (value instanceof Date) return 'Date'
  if (typeof value === 'object') {
    const name = value.constructor && value.constructor.name
    return name && name !== 'Object' ? `${name} object` : 'object'
  }
  return typeof value
}

function refuse (path, value, why) {
  return new TypeError(`${path} is ${why || `a ${describe(value)}`}, which cannot be carried to another process`)
}

function toPlain (value, path, seen) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw refuse(path, value, String(value))
      return value
    case 'undefined':
      return undefined
    case 'object':
      break
    default:
      throw refuse(path, value)
  }
  if (value === null) return null
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) throw refuse(path, value, 'an invalid Date')
    return { $date: ms }
  }
  if (seen.has(value)) throw refuse(path, value, 'a circular reference')
  seen.add(value)
  let out
  if (Array.isArray(value)) {
    out = new Array(value.length)
    for (let i = 0; i < value.length; i++) {
      const item = toPlain(value[i], `${path}[${i}]`, seen)
      out[i] = item === undefined ? null : item
    }
  } else if (value instanceof Map || value instanceof Set || value instanceof WeakMap ||
      value instanceof WeakSet || value instanceof RegExp || value instanceof Promise) {
    throw refuse(path, value)
  } else if (typeof value.toJSON === 'function') {
    out = toPlain(value.toJSON(), path, seen)
  } else {
    out = {}
    for (const key of Object.keys(value)) {
      const item = toPlain(value[key], `${path}.${key}`, seen)
      if (item !== undefined) out[key] = item
    }
    if (Object.prototype.hasOwnProperty.call(out, '$date') ||
        Object.prototype.hasOwnProperty.call(out, '$escape')) {
      out = { $escape: out }
    }
  }
  seen.delete(value)
  return out
}

/**
 * Whether JSON.stringify carries `value` exactly as it is: only strings,
 * finite numbers, booleans, null, arrays and plain objects, no Dates or
 * look-alike keys. Deep or odd values take the careful path instead.
 */
function isPlain (value, depth) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    case 'object':
      break
    default:
      return false
  }
  if (value === null) return true
  if (depth > 32) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!isPlain(value[i], depth + 1)) return false
    }
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  for (const key in value) {
    if (key === '$date' || key === '$escape' || !isPlain(value[key], depth + 1)) return false
  }
  return true
}

/** JSON text for `value`; `path` names it in errors ("data", "the task result"). */
function encode (value, path) {
  if (isPlain(value, 0)) return JSON.stringify(value)
  const plain = toPlain(value, path, new Set())
  return plain === undefined ? undefined : JSON.stringify(plain)
}

function revive (value) {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i])
    return value
  }
  const keys = Object.keys(value)
  if (keys.length === 1 && keys[0] === '$date' && typeof value.$date === 'number') {
    return new Date(value.$date)
  }
  if (keys.length === 1 && keys[0] === '$escape') {
    const inner = value.$escape
    for (const key of Object.keys(inner)) inner[key] = revive(inner[key])
    return inner
  }
  for (const key of keys) value[key] = revive(value[key])
  return value
}

/** Parses JSON text made by `encode` (or a batch of frames holding such text). */
function decode (json) {
  const value = JSON.parse(json)
  return json.includes('"$date"') || json.includes('"$escape"') ? revive(value) : value
}

/** A thrown value as `{ name, message, stack, ...its own fields }`, as JSON text. */
function encodeError (error) {
  const plain = { name: 'Error', message: '', stack: '' }
  if (error instanceof Error) {
    for (const key of Object.keys(error)) {
      try {
        plain[key] = toPlain(error[key], key, new Set())
      } catch {
        // a field that cannot be carried is left out; the message stays
      }
    }
    plain.name = error.name
    plain.message = error.message
    plain.stack = error.stack || ''
  } else {
    plain.message = String(error)
    try {
      plain.value = toPlain(error, 'value', new Set())
    } catch {
      // only the message describes it then
    }
  }
  return JSON.stringify(plain)
}

/** Task fields as JS sees them: Dates, not milliseconds. */
function taskFromWire (task) {
  task.createdAt = new Date(task.createdAt)
  task.dueDate = new Date(task.dueDate)
  return task
}

/** The Error a failed call rejects with, from its `{ name, message, code }`. */
function errorFrom (value) {
  const error = new Error(value && value.message)
  if (value && value.name) error.name = value.name
  if (value && value.code !== undefined) error.code = value.code
  return error
}

module.exports = { encode, decode, encodeError, errorFrom, describe, taskFromWire }
