'use strict'
// What the EJSON custom types that wrap one string (ObjectId, Decimal128)
// share: the string is their text, their EJSON value and their plain JSON,
// a clone is made of it, and inspecting one shows it.

class TextValue {
  toString () {
    return this._str
  }

  toJSONValue () {
    return this._str
  }

  toJSON () {
    return this._str
  }

  clone () {
    return new this.constructor(this._str)
  }

  [Symbol.for('nodejs.util.inspect.custom')] () {
    return `${this.constructor.name}("${this._str}")`
  }
}

module.exports = TextValue
