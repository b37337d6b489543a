// The tasks of the payload and CPU-bound workloads, shared by every subject's
// workers (CommonJS, so workerpool's worker can require it and the ESM
// subjects can import it). The master side's checks live here too, so every
// subject is held to the same ones.
'use strict'
const { createHash } = require('node:crypto')

// ------------------------------------------------------------- payloads

/** A deterministic byte at position `i` of the bench's binary payloads. */
const byteAt = (i) => (i * 31 + 7) & 255

/** `n` deterministic bytes. */
function makeBytes (n) {
  const bytes = new Uint8Array(n)
  for (let i = 0; i < n; i++) bytes[i] = byteAt(i)
  return bytes
}

/** Positions the checksum reads: both ends, the middle and 61 more spread over the array. */
function probes (n) {
  const at = new Set([0, n - 1, n >> 1])
  for (let k = 1; k <= 61; k++) at.add(Math.floor((n - 1) * k / 62))
  return [...at].filter((i) => i >= 0 && i < n).sort((a, b) => a - b)
}

/** A checksum of a few positions of `bytes`; equal to `expectedChecksum(n)` when the bytes came whole. */
function checksum (bytes) {
  let sum = 0
  for (const i of probes(bytes.length)) sum = (sum * 33 + bytes[i] + i) % 2147483647
  return sum
}

function expectedChecksum (n) {
  let sum = 0
  for (const i of probes(n)) sum = (sum * 33 + byteAt(i) + i) % 2147483647
  return sum
}

/** A string of `n` characters whose first and last ones mark its ends (`<`, `>`). */
function makeString (n) {
  if (n < 2) return 'x'.repeat(n)
  return '<' + 'x'.repeat(n - 2) + '>'
}

/**
 * The payload task, in a worker. Its input is one of
 *   { s: string }        → { len }                    (the string's length)
 *   { b: Uint8Array }    → { len, u8, sum }           (whether it is one, and the checksum)
 *   { ret: n }           → a string of n characters   (made in the worker)
 */
function payloadTask (data) {
  if (typeof data.s === 'string') return { len: data.s.length }
  if (data.b !== undefined) {
    const b = data.b
    const u8 = b instanceof Uint8Array
    return { len: u8 ? b.length : -1, u8, sum: u8 ? checksum(b) : -1 }
  }
  if (typeof data.ret === 'number') return makeString(data.ret)
  throw new Error(`payload task: unexpected input ${Object.keys(data)}`)
}

/** What `payloadTask` must have returned for the case; throws when the bytes did not arrive. */
function checkPayloadResult (kase, value) {
  if (kase.kind === 'string') {
    if (!value || value.len !== kase.bytes) throw new Error(`the worker received ${value && value.len} characters, not ${kase.bytes}`)
  } else if (kase.kind === 'bytes') {
    if (!value || value.u8 !== true) throw new Error(`the worker did not receive a Uint8Array (${JSON.stringify(value)})`)
    if (value.len !== kase.bytes) throw new Error(`the worker received ${value.len} bytes, not ${kase.bytes}`)
    if (value.sum !== expectedChecksum(kase.bytes)) throw new Error('the worker received other bytes (checksum differs)')
  } else if (kase.kind === 'return') {
    if (typeof value !== 'string') throw new Error(`the returned value is a ${typeof value}, not a string`)
    if (value.length !== kase.bytes) throw new Error(`the returned string has ${value.length} characters, not ${kase.bytes}`)
    if (value[0] !== '<' || value[value.length - 1] !== '>') throw new Error('the returned string lost an end')
  } else {
    throw new Error(`unknown payload case ${kase.kind}`)
  }
}

/** The task's input for a case: the string or bytes are made once by the caller (`makeInput`). */
function makeInput (kase) {
  if (kase.kind === 'string') return { s: makeString(kase.bytes) }
  if (kase.kind === 'bytes') return { b: makeBytes(kase.bytes) }
  if (kase.kind === 'return') return { ret: kase.bytes }
  throw new Error(`unknown payload case ${kase.kind}`)
}

// ------------------------------------------------------------ CPU-bound

const MIB = 1024 * 1024
let block = null

/**
 * The CPU-bound task: `rounds` SHA-256 passes over a 1 MiB block (made once
 * per process, deterministically), each pass seeded with the previous
 * digest; returns the first 8 hex digits of the last digest.
 */
function hashTask ({ seed, rounds }) {
  if (block === null) block = Buffer.from(makeBytes(MIB))
  let digest = Buffer.from(String(seed))
  for (let r = 0; r < rounds; r++) digest = createHash('sha256').update(digest).update(block).digest()
  return digest.toString('hex').slice(0, 8)
}

module.exports = { makeBytes, makeString, checksum, expectedChecksum, payloadTask, checkPayloadResult, makeInput, hashTask, MIB }
