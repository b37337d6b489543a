'use strict'
// Meteor-style task ids (17 characters of Random.id()'s alphabet), made in
// JS so a burst of adds needs no native call per task.

const { randomFillSync } = require('node:crypto')

const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz'
const LENGTH = 17
/** Bytes at or above this are skipped, so every character is equally likely. */
const LIMIT = 256 - (256 % ALPHABET.length)

const pool = Buffer.alloc(4096)
let next = pool.length

function randomByte () {
  if (next === pool.length) {
    randomFillSync(pool)
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
