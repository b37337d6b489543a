'use strict'
// How values cross between processes: Meteor's EJSON, in its JSON form.
//
//   Date                 {"$date": ms}
//   Uint8Array, Buffer   {"$binary": base64}        (arrives as a Uint8Array)
//   NaN, ±Infinity       {"$InfNaN": 0 | 1 | -1}
//   RegExp               {"$regexp": source, "$flags": flags}
//   custom types         {"$type": name, "$value": json}
//                        (ObjectId is "oid", Decimal128 is "Decimal")
//   look-alike objects   {"$escape": {...}}, exactly when Meteor's EJSON
//                        escapes one (1 or 2 keys that read as a tag)
//
// In a Meteor server (`Package.ejson.EJSON` present) custom types go
// through Meteor's own EJSON, so `EJSON.addType` types and Mongo.ObjectID
// come back as themselves. What EJSON has no form for is refused with a
// TypeError naming where it is and why.
//
// Large values can travel beside the JSON text instead of inside it
// (`encodeParts`): a string or a binary of `BLOB_MIN` or more becomes a
// blob, written `{"$binary": i}` for the i-th blob (a number where EJSON
// has base64 text, so no value of the user's reads as one: an object of
// theirs with a `$binary` key is escaped). A blob is the string itself, or
// the bytes: neither is copied into the text, base64 or escaped.

const ObjectId = require('./object-id')
const Decimal128 = require('./decimal128')

/** Strings and binaries at least this long (characters, bytes) travel as blobs. */
const BLOB_MIN = 64 * 1024

/**
 * Whether a string can travel as UTF-8 bytes and come back the same: one
 * without lone surrogates (which UTF-8 cannot hold; JSON escapes them).
 * Before Node 20 there is no `isWellFormed`: a string as long in UTF-8 as
 * in code units is ASCII, and any other is scanned for a lone surrogate.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const wellFormed = typeof String.prototype.isWellFormed === 'function'
  ? (s) => s.isWellFormed()
  : (s) => Buffer.byteLength(s, 'utf8') === s.length || !LONE_SURROGATE.test(s)

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

/** "a Map object", "an Int8Array object", "an object". */
function aDescribed (value) {
  const what = describe(value)
  return /^[aeiouAEIOU]/.test(what) ? `an ${what}` : `a ${what}`
}

function refuse (path, what, why) {
  return new TypeError(`${path} is ${what}, which cannot be carried to another process: ${why}`)
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** `data.a`, or `data["a b"]` for keys that are not identifiers. */
function keyPath (path, key) {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

/** Meteor's EJSON, when this process is a Meteor server. */
function meteorEJSON () {
  const pkg = globalThis.Package
  return pkg && pkg.ejson && pkg.ejson.EJSON ? pkg.ejson.EJSON : null
}

const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key)

/**
 * Whether an object's own keys read as an EJSON tag (Meteor's
 * `matchJSONValue` of each builtin converter): such an object is escaped
 * when encoded, and read as that type when decoded.
 */
function isTagShaped (object, keys) {
  if (keys.length === 1) {
    const key = keys[0]
    return key === '$date' || key === '$InfNaN' || key === '$binary' || key === '$escape'
  }
  if (keys.length === 2) {
    return (hasOwn(object, '$regexp') && hasOwn(object, '$flags')) ||
      (hasOwn(object, '$type') && hasOwn(object, '$value'))
  }
  return false
}

function isPlainObject (value) {
  const proto = Object.getPrototypeOf(value)
  if (proto === null || proto === Object.prototype) return true
  // A plain object from another realm (a vm context) has that realm's Object.prototype.
  return Object.getPrototypeOf(proto) === null && typeof proto.constructor === 'function' &&
    proto.constructor.name === 'Object'
}

const REFUSED_CLASSES = [
  [typeof Map === 'function' && Map, 'EJSON has no form for a Map (use a plain object or an array of pairs)'],
  [typeof Set === 'function' && Set, 'EJSON has no form for a Set (use an array)'],
  [typeof WeakMap === 'function' && WeakMap, 'a WeakMap cannot be read, only looked up'],
  [typeof WeakSet === 'function' && WeakSet, 'a WeakSet cannot be read, only looked up'],
  [typeof Promise === 'function' && Promise, 'a Promise is not a value yet (await it first)']
]

/** A blob's place in the text; `state.blobs` collects them. */
function blobRef (state, blob) {
  return { $binary: state.blobs.push(blob) - 1 }
}

/** The EJSON JSON value of `value`; `undefined` for `undefined`. */
function toJSONValue (value, path, state) {
  switch (typeof value) {
    case 'string':
      if (value.length >= BLOB_MIN && state.blobs && wellFormed(value)) return blobRef(state, value)
      return value
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(value)) return value
      return { $InfNaN: Number.isNaN(value) ? 0 : value > 0 ? 1 : -1 }
    case 'undefined':
      return undefined
    case 'object':
      break
    case 'bigint':
      throw refuse(path, 'a bigint', 'EJSON has no form for a BigInt (use a string or a number)')
    default:
      throw refuse(path, `a ${typeof value}`, `EJSON has no form for a ${typeof value}`)
  }
  if (value === null) return null
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) throw refuse(path, 'an invalid Date', 'it has no time to carry')
    return { $date: ms }
  }
  if (value instanceof RegExp) return { $regexp: value.source, $flags: value.flags }
  if (value instanceof Uint8Array) return binaryValue(value, state)
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    throw refuse(path, aDescribed(value), 'EJSON binary is a Uint8Array (or a Buffer); wrap its bytes in one')
  }
  if (state.seen.has(value)) throw refuse(path, 'a circular reference', 'JSON has no references')
  state.seen.add(value)
  const out = Array.isArray(value) ? arrayValue(value, path, state) : objectValue(value, path, state)
  state.seen.delete(value)
  return out
}

function arrayValue (array, path, state) {
  const out = new Array(array.length)
  for (let i = 0; i < array.length; i++) {
    const item = toJSONValue(array[i], `${path}[${i}]`, state)
    out[i] = item === undefined ? null : item
  }
  return out
}

function objectValue (object, path, state) {
  const proto = Object.getPrototypeOf(object)
  if (proto !== Object.prototype && proto !== null) return instanceValue(object, path, state)
  if (typeof object.typeName === 'function' && typeof object.toJSONValue === 'function') {
    return customValue(object, path)
  }
  if (typeof object.toJSON === 'function') return toJSONValue(object.toJSON(), path, state)
  return fieldsValue(object, path, state)
}

/** An object with a class: a type EJSON knows, something with toJSON(), or refused. */
function instanceValue (object, path, state) {
  if (typeof object._bsontype === 'string') return bsonValue(object, path, state)
  if (typeof object.typeName === 'function' && typeof object.toJSONValue === 'function') {
    return customValue(object, path)
  }
  for (const [Class, why] of REFUSED_CLASSES) {
    if (Class && object instanceof Class) throw refuse(path, aDescribed(object), why)
  }
  if (typeof object.toJSON === 'function') return toJSONValue(object.toJSON(), path, state)
  if (object instanceof Error) {
    throw refuse(path, aDescribed(object), 'EJSON has no form for an Error (carry { name, message } instead)')
  }
  if (!isPlainObject(object)) {
    throw refuse(path, aDescribed(object), 'EJSON knows no such type (give its class typeName() and toJSONValue() and register it with EJSON.addType, or a toJSON() method)')
  }
  return fieldsValue(object, path, state)
}

/** A plain object's own fields, escaped when their keys read as a tag. */
function fieldsValue (object, path, state) {
  const out = {}
  let count = 0
  for (const key of Object.keys(object)) {
    const item = toJSONValue(object[key], keyPath(path, key), state)
    if (item === undefined) continue
    setKey(out, key, item)
    count++
  }
  if (count <= 2 && isTagShaped(out, Object.keys(out))) {
    if (!state.escaped) state.escapedAt = path
    state.escaped = true
    return { $escape: out }
  }
  return out
}

/**
 * A binary: a blob when large and blobs are collected (its bytes are
 * copied when the blobs are handed over, which is at once), else base64.
 */
function binaryValue (bytes, state) {
  if (bytes.byteLength >= BLOB_MIN && state.blobs) return blobRef(state, bytes)
  return { $binary: base64(bytes) }
}

/** The `mongodb`/`bson` driver's own classes, known by their `_bsontype`. */
function bsonValue (object, path, state) {
  switch (object._bsontype) {
    case 'ObjectId':
    case 'ObjectID':
      return { $type: 'oid', $value: String(object.toHexString()).toLowerCase() }
    case 'Decimal128':
      return { $type: 'Decimal', $value: object.toString() }
    case 'Binary':
      if (object.buffer instanceof Uint8Array && Number.isInteger(object.position)) {
        return binaryValue(object.buffer.subarray(0, object.position), state)
      }
      break
    case 'Int32':
    case 'Double':
      return toJSONValue(Number(object.valueOf()), path, null)
  }
  throw refuse(path, `a BSON ${object._bsontype}`, 'EJSON has no form for it (convert it to a number or a string first)')
}

/** An EJSON custom type: an object with `typeName()` and `toJSONValue()`. */
function customValue (object, path) {
  const EJSON = meteorEJSON()
  if (EJSON && typeof EJSON._isCustomType === 'function' && EJSON._isCustomType(object)) {
    return EJSON.toJSONValue(object)
  }
  const name = object.typeName()
  if (typeof name !== 'string' || name.length === 0) {
    throw refuse(path, aDescribed(object), 'its typeName() must return a non-empty string')
  }
  const json = object.toJSONValue()
  if (json === undefined) throw refuse(path, aDescribed(object), 'its toJSONValue() returned undefined')
  checkJSON(json, `${path}.toJSONValue()`, new Set())
  return { $type: name, $value: json }
}

/** A custom type's `toJSONValue()` must be JSON as it is: Meteor carries it unchanged. */
function checkJSON (value, path, seen) {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || value === undefined) return
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return
    throw refuse(path, String(value), 'a custom type\'s toJSONValue() must return JSON')
  }
  if (typeof value !== 'object' || !(Array.isArray(value) || isPlainObject(value))) {
    throw refuse(path, aDescribed(value), 'a custom type\'s toJSONValue() must return JSON')
  }
  if (seen.has(value)) throw refuse(path, 'a circular reference', 'JSON has no references')
  seen.add(value)
  if (Array.isArray(value)) value.forEach((item, i) => checkJSON(item, `${path}[${i}]`, seen))
  else for (const key of Object.keys(value)) checkJSON(value[key], keyPath(path, key), seen)
  seen.delete(value)
}

function base64 (bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/**
 * Whether JSON.stringify carries `value` exactly as EJSON would: only
 * strings shorter than `longest`, finite numbers, booleans, null, arrays
 * and plain objects with no "$" keys. Anything else (and very deep values)
 * takes the careful path.
 */
function isPlain (value, depth, longest) {
  switch (typeof value) {
    case 'string':
      return value.length < longest
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
      if (!isPlain(value[i], depth + 1, longest)) return false
    }
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  for (const key in value) {
    if (key.charCodeAt(0) === 36 || !isPlain(value[key], depth + 1, longest)) return false
  }
  return true
}

/**
 * EJSON JSON text for `value` (undefined for undefined), whether an object
 * had to be wrapped in `$escape` (MongoDB would give such keys back as the
 * tag's type), and the path of one of them (`escapedAt`, for messages: the
 * first completed, so the innermost of nested ones).
 * `path` names the value in errors ("data").
 */
function encodeChecked (value, path) {
  if (isPlain(value, 0, Infinity)) return { json: JSON.stringify(value), escaped: false, escapedAt: undefined }
  const state = { seen: new Set(), escaped: false, escapedAt: undefined, blobs: null }
  const json = toJSONValue(value, path, state)
  return { json: json === undefined ? undefined : JSON.stringify(json), escaped: state.escaped, escapedAt: state.escapedAt }
}

const NO_BLOBS = Object.freeze([])

/**
 * As `encodeChecked`, with large strings and binaries taken out of the
 * text as blobs (`blobs`: strings and Uint8Arrays, in the order the text
 * refers to them; the shared empty array when there are none).
 */
function encodeParts (value, path) {
  if (isPlain(value, 0, BLOB_MIN)) return { json: JSON.stringify(value), blobs: NO_BLOBS, escaped: false, escapedAt: undefined }
  const state = { seen: new Set(), escaped: false, escapedAt: undefined, blobs: [] }
  const json = toJSONValue(value, path, state)
  return {
    json: json === undefined ? undefined : JSON.stringify(json),
    blobs: state.blobs.length === 0 ? NO_BLOBS : state.blobs,
    escaped: state.escaped,
    escapedAt: state.escapedAt
  }
}

/** EJSON JSON text for `value`; `path` names it in errors ("data", "the task result"). */
function encode (value, path) {
  return encodeChecked(value, path).json
}

const NOT_A_TAG = {}

/** The value an EJSON tag stands for, or NOT_A_TAG (then it stays a plain object). */
function fromTag (object, keys, blobs) {
  if (!isTagShaped(object, keys)) return NOT_A_TAG
  switch (keys.length === 1 ? keys[0] : hasOwn(object, '$type') ? '$type' : '$regexp') {
    case '$date':
      return new Date(object.$date)
    case '$InfNaN':
      return object.$InfNaN / 0
    case '$binary':
      return binaryFrom(object.$binary, blobs)
    case '$escape': {
      const inner = object.$escape
      if (inner === null || typeof inner !== 'object') return NOT_A_TAG
      for (const key of Object.keys(inner)) setKey(inner, key, revive(inner[key], blobs))
      return inner
    }
    case '$regexp':
      return regExpFrom(object)
    default:
      return customFrom(object)
  }
}

/** Base64 text, or the number of a blob (see `encodeParts`). */
function binaryFrom (content, blobs) {
  if (typeof content === 'string') return new Uint8Array(Buffer.from(content, 'base64'))
  if (typeof content === 'number' && blobs !== undefined && Number.isInteger(content) && content >= 0 && content < blobs.length) return blobs[content]
  return NOT_A_TAG
}

function regExpFrom ({ $regexp: source, $flags: flags }) {
  if (typeof source !== 'string' || typeof flags !== 'string') return NOT_A_TAG
  // As Meteor does: known flags only, each once, from at most 50 characters
  // (Meteor also drops `s`, which we keep).
  const clean = flags.slice(0, 50).replace(/[^gimsuy]/g, '').replace(/(.)(?=.*\1)/g, '')
  try {
    return new RegExp(source, clean)
  } catch {
    // A pattern JavaScript cannot compile (a PCRE one stored in MongoDB) stays data.
    return NOT_A_TAG
  }
}

function customFrom (tag) {
  const EJSON = meteorEJSON()
  if (EJSON) {
    try {
      return EJSON.fromJSONValue({ $type: tag.$type, $value: tag.$value })
    } catch {
      // A type this Meteor app did not register: read it as without Meteor.
    }
  }
  if (tag.$type === 'oid' && ObjectId.isValid(tag.$value)) return new ObjectId(tag.$value)
  if (tag.$type === 'Decimal' && Decimal128.isValid(tag.$value)) return new Decimal128(tag.$value)
  return NOT_A_TAG
}

/** `object[key] = value`, where "__proto__" stays an own key, never the prototype. */
function setKey (object, key, value) {
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
  else object[key] = value
}

/** Turns EJSON JSON values into their types, in place; `blobs` are those the text refers to. */
function revive (value, blobs) {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i], blobs)
    return value
  }
  const keys = Object.keys(value)
  if (keys.length <= 2 && keys.length > 0 && keys.every((k) => k.charCodeAt(0) === 36)) {
    const typed = fromTag(value, keys, blobs)
    if (typed !== NOT_A_TAG) return typed
    // An unknown custom type stays { $type, $value }, its value as sent.
    if (keys.length === 2 && hasOwn(value, '$type') && hasOwn(value, '$value')) return value
  }
  for (const key of keys) setKey(value, key, revive(value[key], blobs))
  return value
}

/**
 * Parses EJSON JSON text (or a batch of frames holding such text), with the
 * `blobs` it refers to, if any (strings and Uint8Arrays, see `encodeParts`).
 * A tag is an object whose keys all start with `$`, so compact JSON holds
 * `{"$`; inside a string the quote is escaped, so task text carried in a
 * frame does not count.
 */
function decode (json, blobs) {
  const value = JSON.parse(json)
  return json.indexOf('{"$') === -1 ? value : revive(value, blobs)
}

module.exports = { encode, encodeChecked, encodeParts, toJSONValue, decode, describe, hasOwn, BLOB_MIN }
