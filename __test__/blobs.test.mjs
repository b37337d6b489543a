// Large values beside the text: the codec's `encodeParts` takes strings and
// binaries of BLOB_MIN or more out of the JSON text as blobs, and `decode`
// puts them back. In-process, no addon: the end-to-end side is
// payloads.test.mjs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { encode, encodeParts, decode, BLOB_MIN } = require('../lib/codec.js')

const roundTrip = (value) => {
  const { json, blobs } = encodeParts(value, 'data')
  return decode(json, blobs)
}

const bytes = (n, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255)

test('strings and binaries of BLOB_MIN or more leave the text as blobs and come back equal, wherever they are', () => {
  const long = 'é<' + 'x'.repeat(BLOB_MIN) + '>🚀'
  const value = {
    long,
    bin: bytes(BLOB_MIN),
    list: [1, bytes(BLOB_MIN + 1, 7), { deep: [long.toUpperCase()] }],
    short: 'x'.repeat(10),
    small: bytes(3),
    when: new Date(5)
  }
  const { json, blobs } = encodeParts(value, 'data')
  assert.equal(blobs.length, 4)
  assert.ok(json.length < 1000, 'no blob in the text')
  assert.equal(blobs[0], long, 'a string blob is the string itself')
  assert.equal(blobs[1], value.bin, 'a binary blob is the array itself')
  assert.deepEqual(JSON.parse(json).long, { $binary: 0 })
  assert.equal(JSON.parse(json).small.$binary, Buffer.from(value.small).toString('base64'), 'small binaries stay base64')
  const back = decode(json, blobs)
  assert.deepEqual(back, value)
  assert.ok(back.list[1] instanceof Uint8Array)
  assert.ok(back.when instanceof Date)
})

test('a value with nothing large is encoded as encode does, without blobs', () => {
  for (const value of [{ a: 1, b: ['x'] }, { when: new Date(1), bin: bytes(10) }, { s: 'y'.repeat(BLOB_MIN - 1) }]) {
    const parts = encodeParts(value, 'data')
    assert.equal(parts.json, encode(value, 'data'))
    assert.equal(parts.blobs.length, 0)
  }
})

test('the user\'s own $binary keys are escaped, so no value of theirs reads as a blob', () => {
  const value = { a: { $binary: 0 }, b: { $binary: 'y'.repeat(BLOB_MIN) }, c: { $binary: bytes(BLOB_MIN) } }
  const { json, blobs } = encodeParts(value, 'data')
  assert.equal(blobs.length, 2)
  assert.deepEqual(JSON.parse(json).a, { $escape: { $binary: 0 } })
  assert.deepEqual(decode(json, blobs), value)
})

test('a string that UTF-8 cannot carry (a lone surrogate) stays in the text', () => {
  const value = { s: 'a'.repeat(BLOB_MIN) + '\ud800' }
  const { json, blobs } = encodeParts(value, 'data')
  assert.equal(blobs.length, 0)
  assert.equal(decode(json, blobs).s, value.s)
})

test('a blob number with no such blob is read as the plain object it is', () => {
  assert.deepEqual(decode('{"a":{"$binary":0}}'), { a: { $binary: 0 } })
  assert.deepEqual(decode('{"a":{"$binary":2}}', ['x']), { a: { $binary: 2 } })
  assert.deepEqual(decode('{"a":{"$binary":0.5}}', ['x']), { a: { $binary: 0.5 } })
})
