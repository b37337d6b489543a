// The EJSON value model of meteor-cluster's typings: what task data,
// results, IPC messages and documents may hold, as lib/codec.js carries
// them between processes. What is sent is checked by `EJSONCompatible<T>`;
// what is read back is typed by `Decoded<T>`. Re-exported by index.d.ts
// (not a module of its own for users: import from 'meteor-cluster').

/** A JSON value: what a custom type's `toJSONValue()` returns. */
export type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue }

/**
 * An EJSON custom type (Meteor's `EJSON.addType`): an object whose class
 * names its type and turns it into JSON. `ObjectId` and `Decimal128` are two.
 */
export interface EJSONCustomType {
  /** The type's registered name (`'oid'` for an ObjectId). */
  typeName(): string
  /** The value as JSON, carried as `{ $type: typeName(), $value: toJSONValue() }`. */
  toJSONValue(): JSONValue
}

/** A custom type read where it is not registered: its tag, as sent. */
export interface EJSONTypeTag {
  /** The type's name (`typeName()` of the value sent). */
  $type: string
  /** Its `toJSONValue()`. */
  $value: JSONValue
}

/**
 * An ObjectId as read back: this package's `ObjectId`, or in a Meteor
 * server Meteor's `Mongo.ObjectID` (Meteor's EJSON reads custom types there).
 */
export interface ObjectIdLike extends EJSONCustomType {
  /** The 24 lowercase hexadecimal digits. */
  toHexString(): string
  /** Whether `other` is the same id, whatever class holds it. */
  equals(other: ObjectIdLike): boolean
  /** `'oid'`, the EJSON name of an ObjectId. */
  typeName(): 'oid'
  /** The hex string. */
  toJSONValue(): string
}

/**
 * A Decimal128 as read back: this package's `Decimal128`, or in a Meteor
 * server with `mongo-decimal`, its `Decimal`.
 */
export interface Decimal128Like extends EJSONCustomType {
  /** The decimal's exact text. */
  toString(): string
  /** `'Decimal'`, the EJSON name of a Decimal128. */
  typeName(): 'Decimal'
  /** The decimal's text. */
  toJSONValue(): string
}

/**
 * A value as another process reads it: JSON, `Date`, binary as a
 * `Uint8Array`, `NaN` and ±`Infinity` (numbers), `RegExp`, ObjectId,
 * Decimal128, and custom types (or their `{ $type, $value }` tag where
 * they are not registered). `undefined` object fields are left out; in
 * arrays `undefined` becomes `null`.
 */
export type EJSONValue =
  | string | number | boolean | null
  | Date | Uint8Array | RegExp
  | ObjectIdLike | Decimal128Like | EJSONCustomType
  | EJSONValue[]
  | EJSONObject

/** An object of EJSON values. */
export interface EJSONObject {
  [key: string]: EJSONValue
}

/** The `mongodb` driver's values the codec accepts, known by `_bsontype`. */
export type CarriedBSON = { readonly _bsontype: 'ObjectId' | 'ObjectID' | 'Decimal128' | 'Binary' | 'Int32' | 'Double' }

/** What EJSON has no form for: refused with a TypeError naming its path. */
type NotEJSON =
  | ((...args: never[]) => unknown)
  | bigint | symbol
  | ReadonlyMap<unknown, unknown> | ReadonlySet<unknown>
  | WeakMap<object, unknown> | WeakSet<object>
  | PromiseLike<unknown>
  | { readonly _bsontype: string }

/**
 * `T` where every part of it can be carried to another process, `never`
 * where a part cannot (a function, a BigInt, a symbol, a Map or Set, a
 * Promise, a typed array other than `Uint8Array`, a BSON type the codec
 * refuses). Used as `value: T & EJSONCompatible<T>`, so a wrong part is
 * reported where it is. Class instances that are neither custom types nor
 * have a `toJSON()` are refused at run time only (types cannot tell them
 * from plain objects).
 */
export type EJSONCompatible<T> =
  unknown extends T ? T
    : T extends EJSONValue | undefined ? T
      : T extends CarriedBSON ? T
        : T extends NotEJSON ? never
          : T extends ArrayBufferView | ArrayBuffer ? never
            : T extends EJSONCustomType | { toJSON(): unknown } ? T
              : T extends object ? { [K in keyof T]: EJSONCompatible<T[K]> }
                : never

/** An array item as read back: `undefined` becomes `null`. */
type DecodedItem<T> = T extends undefined ? null : Decoded<T>

/**
 * `T` as another process reads it: a `Buffer` (or the driver's `Binary`)
 * as a `Uint8Array`, ObjectIds and Decimal128s as `ObjectIdLike` and
 * `Decimal128Like`, the driver's `Int32` and `Double` as numbers, what has a
 * `toJSON()` as what that returns, a custom type as itself where it is
 * registered or else its `{ $type, $value }` tag. Plain JSON comes back as
 * it was sent.
 */
export type Decoded<T> =
  unknown extends T ? EJSONValue
    : T extends string | number | boolean | null | undefined | Date | RegExp ? T
      : T extends Uint8Array | { readonly _bsontype: 'Binary' } ? Uint8Array
        : T extends ObjectId | { readonly _bsontype: 'ObjectId' | 'ObjectID' } ? ObjectIdLike
          : T extends Decimal128 | { readonly _bsontype: 'Decimal128' } ? Decimal128Like
            : T extends { readonly _bsontype: 'Int32' | 'Double' } ? number
              : T extends EJSONCustomType ? T | EJSONTypeTag
                : T extends { toJSON(): infer R } ? Decoded<R>
                  : T extends readonly unknown[] ? { -readonly [K in keyof T]: DecodedItem<T[K]> }
                    : T extends object ? { -readonly [K in keyof T]: Decoded<T[K]> }
                      : never

/**
 * A MongoDB ObjectId in task data when Meteor is not there: the EJSON type
 * `'oid'` (the name Meteor's `Mongo.ObjectID` registers), stored in MongoDB
 * as a real ObjectId.
 */
export declare class ObjectId implements ObjectIdLike {
  private readonly _str: string
  /** `new ObjectId()` makes a fresh id; `new ObjectId(hex)` takes 24 hex digits (else a TypeError). */
  constructor(hex?: string)
  /** Whether `hex` is a string of 24 hexadecimal digits. */
  static isValid(hex: unknown): hex is string
  /** The 24 lowercase hexadecimal digits. */
  toHexString(): string
  /** The 24 lowercase hexadecimal digits. */
  toString(): string
  /** Same id, whatever class holds it (this one, the driver's, Meteor's). */
  equals(other: unknown): boolean
  /** `'oid'`. */
  typeName(): 'oid'
  /** The hex string, EJSON's `$value`. */
  toJSONValue(): string
  /** The hex string, as plain `JSON.stringify` gives the driver's ObjectId. */
  toJSON(): string
  /** A new ObjectId with the same digits. */
  clone(): ObjectId
}

/**
 * A BSON Decimal128 in task data when Meteor is not there: the EJSON type
 * `'Decimal'` (the name Meteor's `mongo-decimal` registers), keeping the
 * decimal's text exactly. No arithmetic: convert it with a decimal library.
 */
export declare class Decimal128 implements Decimal128Like {
  private readonly _str: string
  /** `new Decimal128('12.50')`: the decimal's text, kept as given (else a TypeError). */
  constructor(text: string)
  /** Whether `text` is a decimal number MongoDB can parse (`'1.5e+30'`, `'-Infinity'`, `'NaN'`...). */
  static isValid(text: unknown): text is string
  /** The decimal's text, as given. */
  toString(): string
  /** Whether `other` is a Decimal (its `typeName()` is `'Decimal'`) with the same text. */
  equals(other: unknown): boolean
  /** `'Decimal'`. */
  typeName(): 'Decimal'
  /** The decimal's text, EJSON's `$value`. */
  toJSONValue(): string
  /** The decimal's text, for plain `JSON.stringify`. */
  toJSON(): string
  /** A new Decimal128 with the same text. */
  clone(): Decimal128
}
