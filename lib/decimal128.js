'use strict'
// A BSON Decimal128 as task data carries it when Meteor is not there: the
// EJSON custom type "Decimal" (the name Meteor's mongo-decimal package
// registers), holding the decimal's text exactly. No arithmetic: convert
// with a decimal library of your choice (`new Decimal(d.toString())`).

const TextValue = require('./text-value')

// What a decimal string looks like to MongoDB: digits with an optional
// point and exponent, or Infinity / NaN, signed or not.
const DECIMAL = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i

class Decimal128 extends TextValue {
  /** `new Decimal128('12.50')`: the decimal's text, kept as given. */
  constructor (text) {
    super()
    if (!Decimal128.isValid(text)) {
      const got = typeof text === 'string' ? `string ${JSON.stringify(text.slice(0, 40))}` : typeof text
      throw new TypeError(`a Decimal128 needs a decimal number as a string (like "12.50" or "1.5e+30"), got ${got}`)
    }
    this._str = text
  }

  /** Whether `text` is a decimal number MongoDB can parse. */
  static isValid (text) {
    return typeof text === 'string' && DECIMAL.test(text)
  }

  equals (other) {
    return other !== null && typeof other === 'object' && typeof other.toString === 'function' &&
      typeof other.typeName === 'function' && other.typeName() === 'Decimal' && other.toString() === this._str
  }

  typeName () {
    return 'Decimal'
  }
}

module.exports = Decimal128
