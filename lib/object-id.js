'use strict'
// A MongoDB ObjectId as task data carries it when Meteor is not there: the
// EJSON custom type "oid" (the name Meteor's Mongo.ObjectID registers), 24
// lowercase hex digits, stored in MongoDB as a real ObjectId.

const TextValue = require('./text-value')

const HEX = /^[0-9a-fA-F]{24}$/

// The parts of a new id that make it unique, as the MongoDB drivers make
// them: 5 random bytes per process, then a counter that starts at random.
// Made on first use: loading node:crypto costs every process milliseconds.
let processPart = null
let counter = 0

function generate () {
  if (processPart === null) {
    const { randomBytes } = require('crypto')
    processPart = randomBytes(5).toString('hex')
    counter = randomBytes(3).readUIntBE(0, 3)
  }
  const seconds = Math.floor(Date.now() / 1000) >>> 0
  counter = (counter + 1) % 0x1000000
  return seconds.toString(16).padStart(8, '0') + processPart + counter.toString(16).padStart(6, '0')
}

class ObjectId extends TextValue {
  /** `new ObjectId()` makes a fresh id; `new ObjectId(hex)` takes 24 hex digits. */
  constructor (hex) {
    super()
    if (hex === undefined) hex = generate()
    if (!ObjectId.isValid(hex)) {
      const got = typeof hex === 'string' ? `string ${JSON.stringify(hex.slice(0, 40))}` : typeof hex
      throw new TypeError(`an ObjectId needs 24 hexadecimal digits, got ${got}`)
    }
    this._str = hex.toLowerCase()
  }

  /** Whether `hex` is 24 hexadecimal digits. */
  static isValid (hex) {
    return typeof hex === 'string' && HEX.test(hex)
  }

  toHexString () {
    return this._str
  }

  /** Same id, whatever class holds it (ours, the driver's, Meteor's). */
  equals (other) {
    return other !== null && typeof other === 'object' && typeof other.toHexString === 'function' &&
      String(other.toHexString()).toLowerCase() === this._str
  }

  typeName () {
    return 'oid'
  }
}

module.exports = ObjectId
