// The EJSON codec on its own: no addon, no processes. Meteor's EJSON (the
// `ejson` package, Meteor's code extracted) is the conformance oracle: what
// we encode it decodes to the same values, and the reverse.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import vm from 'node:vm'
import EJSON from 'ejson'
import * as mongodb from 'mongodb'

const require = createRequire(import.meta.url)
const { encode, encodeChecked, decode } = require('../lib/codec.js')
const { encodeError, errorFrom } = require('../lib/errors.js')
const ObjectId = require('../lib/object-id.js')
const Decimal128 = require('../lib/decimal128.js')

// Stand-ins for what a Meteor server registers: Mongo.ObjectID ("oid") and
// mongo-decimal's Decimal ("Decimal"), so the oracle knows both types.
class MeteorObjectID {
  constructor (hex) { this._str = hex }
  typeName () { return 'oid' }
  toJSONValue () { return this._str }
  toHexString () { return this._str }
  equals (other) { return other instanceof MeteorObjectID && other._str === this._str }
}
class MeteorDecimal {
  constructor (text) { this.text = text }
  typeName () { return 'Decimal' }
  toJSONValue () { return this.text }
  toString () { return this.text }
}
EJSON.addType('oid', (hex) => new MeteorObjectID(hex))
EJSON.addType('Decimal', (text) => new MeteorDecimal(text))

/** Values with custom types compared by type name and JSON value, whatever class holds them. */
function comparable (value) {
  if (value === null || typeof value !== 'object') return value
  if (value instanceof Date || value instanceof RegExp || value instanceof Uint8Array) return value
  if (typeof value.typeName === 'function') return { custom: value.typeName(), value: value.toJSONValue() }
  if (Array.isArray(value)) return value.map(comparable)
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]))
}

const roundTrip = (value) => decode(encode(value, 'data'))

/** Runs `fn` as if in a Meteor server whose EJSON is the `ejson` package. */
function inMeteor (fn) {
  globalThis.Package = { ejson: { EJSON } }
  try {
    return fn()
  } finally {
    delete globalThis.Package
  }
}

const sample = {
  text: 'héllo "quoted" \\ \u2028',
  int: 42,
  float: -1.5,
  yes: true,
  nothing: null,
  when: new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
  epoch: new Date(0),
  bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
  empty: new Uint8Array(0),
  nan: NaN,
  inf: Infinity,
  negInf: -Infinity,
  regexp: /a+\/b[c-d]?$/gimuy,
  id: new ObjectId('5f1d7a2b9c8e4d3a2b1c0d9e'),
  decimal: new Decimal128('1234567890.123456789'),
  list: [1, 'two', { three: new Date(3) }, [NaN], null],
  nested: { deep: { deeper: { bytes: new Uint8Array([7]) } } }
}

test('plain JSON values are encoded as JSON.stringify does and come back equal', () => {
  const value = { a: 1, b: [true, null, 'x', { c: -2.5 }], d: {} }
  assert.equal(encode(value, 'data'), JSON.stringify(value))
  assert.deepEqual(encodeChecked(value, 'data'), { json: JSON.stringify(value), escaped: false, escapedAt: undefined })
  assert.deepEqual(roundTrip(value), value)
  assert.equal(encode(undefined, 'the task result'), undefined)
  assert.equal(encode('text', 'the task result'), '"text"')
})

test('every EJSON type round-trips with its type', () => {
  const back = roundTrip(sample)
  assert.deepEqual(comparable(back), comparable(sample))
  assert.ok(back.when instanceof Date)
  assert.equal(back.when.getTime(), sample.when.getTime())
  assert.ok(Number.isNaN(back.nan))
  assert.equal(back.inf, Infinity)
  assert.equal(back.negInf, -Infinity)
  assert.ok(back.regexp instanceof RegExp)
  assert.equal(back.regexp.source, sample.regexp.source)
  assert.equal(back.regexp.flags, 'gimuy')
  assert.ok(back.id instanceof ObjectId)
  assert.equal(back.id.toHexString(), '5f1d7a2b9c8e4d3a2b1c0d9e')
  assert.ok(back.id.equals(sample.id))
  assert.ok(back.decimal instanceof Decimal128)
  assert.equal(back.decimal.toString(), '1234567890.123456789')
  assert.deepEqual(back.bytes, sample.bytes)
  assert.ok(back.list[2].three instanceof Date)
  assert.ok(Number.isNaN(back.list[3][0]))
})

test('a RegExp keeps its dotAll flag (Meteor\'s EJSON drops s)', () => {
  assert.equal(roundTrip(/x./s).flags, 's')
})

test('a Buffer arrives as a plain Uint8Array with the same bytes, even a slice of a shared pool', () => {
  const pooled = Buffer.from('0123456789abcdef').subarray(3, 9)
  const back = roundTrip({ buf: pooled, whole: Buffer.from([1, 2, 3]) })
  assert.equal(Object.getPrototypeOf(back.buf), Uint8Array.prototype)
  assert.deepEqual(back.buf, new Uint8Array(Buffer.from('345678')))
  assert.deepEqual(back.whole, new Uint8Array([1, 2, 3]))
})

test('undefined fields are dropped and undefined array items become null, as JSON does', () => {
  assert.deepEqual(roundTrip({ a: undefined, b: [undefined, 1, , 3], c: new Date(1) }), { b: [null, 1, null, 3], c: new Date(1) }) // eslint-disable-line no-sparse-arrays
})

const lookAlikes = [
  { $date: 'not a date' },
  { $date: 86400000 },
  { $InfNaN: 1 },
  { $binary: 'AQID' },
  { $escape: 1 },
  { $regexp: 'a', $flags: 'g' },
  { $type: 'oid', $value: '5f1d7a2b9c8e4d3a2b1c0d9e' },
  { $escape: { $date: 1 } },
  { $date: new Date(5) }
]

const notLookAlikes = [
  { $date: 1, other: 2 },
  { $foo: 1 },
  { $regexp: 'a' },
  { $type: 'string' },
  { $set: { a: 1 }, $inc: { n: 1 } },
  { date: 1 },
  {}
]

test('objects whose keys read as an EJSON tag are escaped exactly as Meteor escapes them, and say so', () => {
  for (const value of lookAlikes) {
    const { json, escaped, escapedAt } = encodeChecked({ inner: value }, 'data')
    assert.equal(json, EJSON.stringify({ inner: value }), JSON.stringify(json))
    assert.equal(escaped, true, json)
    assert.ok(escapedAt.startsWith('data.inner'), `an escaped object is named: ${escapedAt}`)
    assert.deepEqual(comparable(decode(json).inner), comparable(value))
  }
  for (const value of notLookAlikes) {
    const { json, escaped } = encodeChecked({ inner: value }, 'data')
    assert.equal(json, EJSON.stringify({ inner: value }))
    assert.equal(escaped, false, json)
    assert.deepEqual(decode(json).inner, value)
  }
})

test('what we encode, Meteor\'s EJSON decodes to the same values', () => {
  for (const [key, value] of Object.entries({ ...sample, lookAlikes })) {
    const ours = encode({ [key]: value }, 'data')
    assert.deepEqual(comparable(EJSON.parse(ours)), comparable({ [key]: value }), key)
  }
})

test('what Meteor\'s EJSON encodes, we decode to the same values', () => {
  for (const [key, value] of Object.entries({ ...sample, lookAlikes })) {
    const theirs = EJSON.stringify({ [key]: value })
    assert.deepEqual(comparable(decode(theirs)), comparable({ [key]: value }), key)
  }
})

const refusals = {
  'a function': [{ a: { fn () {} } }, /^data\.a\.fn is a function, which cannot be carried to another process: EJSON has no form for a function$/],
  'a symbol': [{ s: Symbol('x') }, /^data\.s is a symbol, which cannot be carried/],
  'a BigInt': [{ list: [1, 2n] }, /^data\.list\[1\] is a bigint, which cannot be carried.*use a string or a number/],
  'a cycle': [(() => { const o = { a: [{}] }; o.a[0].back = o; return o })(), /^data\.a\[0\]\.back is a circular reference, which cannot be carried.*JSON has no references/],
  'a Map': [{ m: new Map() }, /^data\.m is a Map object, which cannot be carried.*no form for a Map/],
  'a Set': [{ s: new Set([1]) }, /^data\.s is a Set object.*use an array/],
  'a WeakMap': [{ w: new WeakMap() }, /^data\.w is a WeakMap object/],
  'a WeakSet': [{ w: new WeakSet() }, /^data\.w is a WeakSet object/],
  'a Promise': [{ p: Promise.resolve(1) }, /^data\.p is a Promise object.*await it first/],
  'a Float64Array': [{ f: new Float64Array(2) }, /^data\.f is a Float64Array object.*Uint8Array/],
  'an Int8Array': [{ f: new Int8Array(2) }, /^data\.f is an Int8Array object/],
  'an ArrayBuffer': [{ f: new ArrayBuffer(2) }, /^data\.f is an ArrayBuffer object/],
  'an invalid Date': [{ d: new Date('nope') }, /^data\.d is an invalid Date/],
  'an unknown class instance': [{ x: new (class Point { constructor () { this.x = 1 } })() }, /^data\.x is a Point object.*EJSON knows no such type.*EJSON\.addType/],
  'an Error': [{ e: new RangeError('x') }, /^data\.e is a RangeError object.*\{ name, message \}/],
  'a key that is not an identifier': [{ 'a b': { 'c-d': () => 1 } }, /^data\["a b"\]\["c-d"\] is a function/],
  'a custom type with no name': [{ c: { typeName: () => '', toJSONValue: () => 1 } }, /^data\.c is an object.*typeName\(\) must return a non-empty string/],
  'a custom type whose JSON is not JSON': [{ c: { typeName: () => 'T', toJSONValue: () => ({ at: new Date() }) } }, /^data\.c\.toJSONValue\(\)\.at is a Date.*must return JSON/],
  'a custom type whose JSON is undefined': [{ c: { typeName: () => 'T', toJSONValue: () => undefined } }, /^data\.c is an object.*toJSONValue\(\) returned undefined/],
  'a BSON Long': [{ n: mongodb.Long.fromNumber(5) }, /^data\.n is a BSON Long.*number or a string/]
}

for (const [label, [value, message]] of Object.entries(refusals)) {
  test(`encode refuses ${label} with a TypeError naming where it is, what it is and why`, () => {
    assert.throws(() => encode(value, 'data'), (error) => {
      assert.ok(error instanceof TypeError, `${error.name}: ${error.message}`)
      assert.match(error.message, message)
      return true
    })
  })
}

test('a plain object with a _bsontype key is plain data', () => {
  assert.deepEqual(roundTrip({ o: { _bsontype: 'Long', n: 1 } }), { o: { _bsontype: 'Long', n: 1 } })
})

test('the same object twice is not a cycle', () => {
  const shared = { at: new Date(1) }
  assert.deepEqual(roundTrip({ a: shared, b: [shared] }), { a: { at: new Date(1) }, b: [{ at: new Date(1) }] })
})

test('an object with toJSON() is carried as what toJSON() returns, encoded in turn', () => {
  class Money { toJSON () { return { cents: 150, at: new Date(2) } } }
  assert.deepEqual(roundTrip({ m: new Money() }), { m: { cents: 150, at: new Date(2) } })
})

test('plain objects from another realm and with a null prototype are plain', () => {
  const foreign = vm.runInNewContext('({ a: 1, when: { n: 2 } })')
  assert.deepEqual(roundTrip({ foreign }), { foreign: { a: 1, when: { n: 2 } } })
  const bare = Object.assign(Object.create(null), { x: NaN })
  assert.ok(Number.isNaN(roundTrip({ bare }).bare.x))
})

test('an own "__proto__" key stays a key and never becomes a prototype', () => {
  const value = JSON.parse('{"__proto__":{"$date":5},"n":NaN}'.replace('NaN', '1'))
  const back = roundTrip(value)
  assert.equal(Object.getPrototypeOf(back), Object.prototype)
  assert.ok(Object.prototype.hasOwnProperty.call(back, '__proto__'))
  assert.deepEqual(Object.getOwnPropertyDescriptor(back, '__proto__').value, { $date: 5 })
})

test('without Meteor, an EJSON custom type arrives as { $type, $value }, oid as ObjectId and Decimal as Decimal128', () => {
  class Distance {
    constructor (m) { this.m = m }
    typeName () { return 'Distance' }
    toJSONValue () { return { m: this.m, $odd: [1] } }
  }
  const json = encode({ d: new Distance(3) }, 'data')
  assert.equal(json, '{"d":{"$type":"Distance","$value":{"m":3,"$odd":[1]}}}')
  assert.deepEqual(decode(json), { d: { $type: 'Distance', $value: { m: 3, $odd: [1] } } })
  assert.deepEqual(decode('{"bad":{"$type":"oid","$value":"zz"}}'), { bad: { $type: 'oid', $value: 'zz' } })
  assert.deepEqual(decode('{"v":{"$type":"T","$value":{"$date":1}}}'), { v: { $type: 'T', $value: { $date: 1 } } }, 'a custom value is JSON as sent, never decoded')
})

test('the mongodb driver\'s ObjectId, Decimal128, Binary and Int32 are carried without requiring the driver', () => {
  const id = new mongodb.ObjectId()
  const back = roundTrip({
    id,
    decimal: mongodb.Decimal128.fromString('-0.0001'),
    binary: new mongodb.Binary(Buffer.from([9, 8, 7])),
    int: new mongodb.Int32(12)
  })
  assert.ok(back.id instanceof ObjectId)
  assert.equal(back.id.toHexString(), id.toHexString())
  assert.ok(back.id.equals(id), 'our ObjectId equals the driver\'s with the same hex')
  assert.equal(back.decimal.toString(), '-0.0001')
  assert.deepEqual(back.binary, new Uint8Array([9, 8, 7]))
  assert.equal(back.int, 12)
})

test('ObjectId and Decimal128 check what they are given', () => {
  assert.match(new ObjectId().toHexString(), /^[0-9a-f]{24}$/)
  assert.notEqual(new ObjectId().toHexString(), new ObjectId().toHexString())
  assert.equal(new ObjectId('5F1D7A2B9C8E4D3A2B1C0D9E').toString(), '5f1d7a2b9c8e4d3a2b1c0d9e')
  assert.equal(JSON.stringify({ id: new ObjectId('5f1d7a2b9c8e4d3a2b1c0d9e') }), '{"id":"5f1d7a2b9c8e4d3a2b1c0d9e"}')
  assert.throws(() => new ObjectId('xyz'), /24 hexadecimal digits, got string "xyz"/)
  assert.throws(() => new Decimal128('12,5'), TypeError)
  for (const text of ['0', '-1.5', '.5', '1.', '1e+30', '-1.23E-7', 'NaN', '-Infinity']) {
    assert.equal(new Decimal128(text).toString(), text)
  }
})

test('in a Meteor server, custom types go through Meteor\'s EJSON: registered types come back as themselves', () => {
  class Distance {
    constructor (m) { this.m = m }
    typeName () { return 'MeteorDistance' }
    toJSONValue () { return { m: this.m } }
  }
  EJSON.addType('MeteorDistance', (json) => new Distance(json.m))
  inMeteor(() => {
    const json = encode({ d: new Distance(4), id: new MeteorObjectID('5f1d7a2b9c8e4d3a2b1c0d9e'), at: new Date(9) }, 'data')
    assert.equal(json, EJSON.stringify({ d: new Distance(4), id: new MeteorObjectID('5f1d7a2b9c8e4d3a2b1c0d9e'), at: new Date(9) }))
    const back = decode(json)
    assert.ok(back.d instanceof Distance)
    assert.equal(back.d.m, 4)
    assert.ok(back.id instanceof MeteorObjectID, 'oid is Mongo.ObjectID in Meteor')
    assert.ok(back.at instanceof Date)
    const ours = decode(encode({ id: new ObjectId('5f1d7a2b9c8e4d3a2b1c0d9e') }, 'data'))
    assert.ok(ours.id instanceof MeteorObjectID, 'our ObjectId arrives as Meteor\'s')
    assert.deepEqual(decode('{"u":{"$type":"Unregistered","$value":1}}'), { u: { $type: 'Unregistered', $value: 1 } })
  })
  assert.ok(!('Package' in globalThis))
})

test('a thrown Error is carried with its name, message, stack, code and the fields that can be carried', () => {
  const error = new RangeError('out of range')
  error.code = 'E_RANGE'
  error.at = new Date(7)
  error.limit = Infinity
  error.callback = () => {}
  const value = decode(encodeError(error))
  assert.equal(value.name, 'RangeError')
  assert.equal(value.message, 'out of range')
  assert.match(value.stack, /RangeError: out of range/)
  assert.equal(value.code, 'E_RANGE')
  assert.deepEqual(value.at, new Date(7))
  assert.equal(value.limit, Infinity)
  assert.ok(!('callback' in value), 'a field that cannot be carried is left out')

  class CodedError extends Error { get code () { return 'E_GETTER' } }
  assert.equal(decode(encodeError(new CodedError('x'))).code, 'E_GETTER', 'a code from a getter is carried too')
  assert.deepEqual(decode(encodeError('plain string')), { name: 'Error', message: 'plain string', stack: '', value: 'plain string' })
  assert.equal(decode(encodeError(Object.create(null))).message, 'a thrown object')
})

test('errorFrom makes an Error of the class its name says, with every field as an own property', () => {
  const error = errorFrom({ name: 'TypeError', message: 'bad', code: 'E_BAD', stack: 'TypeError: bad\n    at remote', extra: { n: 1 } })
  assert.ok(error instanceof TypeError)
  for (const key of ['name', 'message', 'code', 'extra']) assert.ok(Object.prototype.hasOwnProperty.call(error, key), key)
  assert.equal(error.name, 'TypeError')
  assert.equal(error.message, 'bad')
  assert.equal(error.code, 'E_BAD')
  assert.deepEqual(error.extra, { n: 1 })
  assert.equal(error.stack, 'TypeError: bad\n    at remote')

  const custom = errorFrom({ name: 'WorkerExitError', message: 'exited', signal: 'SIGKILL' })
  assert.ok(custom instanceof Error)
  assert.equal(custom.name, 'WorkerExitError')
  assert.equal(custom.signal, 'SIGKILL')
  assert.match(custom.stack, /exited/, 'the local stack stays when none came')
  assert.equal(errorFrom('just text').message, 'just text')
  assert.equal(errorFrom(undefined).message, '')
})
