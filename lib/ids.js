'use strict'
// Task ids for in-memory adds, taken from a pool the addon fills (Meteor-style,
// 17 characters, from its CSPRNG), so a burst of adds needs no native call
// per task.

const binding = require('./binding')

const LENGTH = 17
const POOL = 256

let pool = ''
let next = 0

function newId () {
  if (next === pool.length) {
    pool = binding.newIds(POOL)
    next = 0
  }
  const id = pool.slice(next, next + LENGTH)
  next += LENGTH
  return id
}

module.exports = { newId }
