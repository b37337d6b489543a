'use strict'
// Meteor-style task ids (17 characters of Random.id()'s alphabet), made in
// JS so a burst of adds needs no native call per task.

const binding = require('./binding')

const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz'
const LENGTH = 17
/** Bytes at or above this are skipped, so every character is equally likely. */
const LIMIT = 256 - (256 % ALPHABET.length)

/** Random bytes from the addon's CSPRNG, refilled when used up. */
const POOL = 4096
let pool = null
let next = POOL

function randomByte () {
  if (next === POOL) {
    pool = binding.randomBytes(POOL)
    next = 0
  }
  return pool[next++]
}

function newId () {
  let id = ''
  while (id.length < LENGTH) {
    const byte = randomByte()
    if (byte < LIMIT) id += ALPHABET[byte % ALPHABET.length]
  }
  return id
}

module.exports = { newId }
