'use strict'
// The native addon, loaded once, with a message that says how to get it.

let binding
try {
  binding = require('../binding.js')
} catch (error) {
  error.message = `meteor-cluster: the native addon could not be loaded (${error.message}). ` +
    'Install a prebuilt package for your platform, or build it with `npm run build` (needs Rust).'
  throw error
}

module.exports = binding
