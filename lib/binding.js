'use strict'
// The one place the native addon is loaded. In this order:
//   1. a build in the package root, `meteor-cluster.<id>.node`, which
//      `npm run build` / `build:debug` write (developing this package, or a
//      clone built from source on a platform without a prebuilt addon);
//   2. the prebuilt package `meteor-cluster-<id>`, which npm installs as an
//      optional dependency on the platform it fits.
// Anything else throws an error (code METEOR_CLUSTER_NO_ADDON) that names the
// platform, lists the supported ones and says how to build from source.

const { existsSync } = require('fs')
const { join } = require('path')
const platforms = require('./platforms')
const { version } = require('../package.json')

const CODE = 'METEOR_CLUSTER_NO_ADDON'

function fail (message, cause) {
  const error = new Error(`meteor-cluster: ${message}`)
  error.code = CODE
  if (cause) error.cause = cause
  return error
}

function fromSource () {
  const supported = platforms.supported().map((t) => t.id).join(', ')
  return `Prebuilt addons exist for: ${supported}.\n` +
    'To build it from source: install Rust (https://rustup.rs) and a C compiler, then in a clone of ' +
    'the meteor-cluster repository run `npm install && npm run build`, and install that folder ' +
    'into your app (`npm install /path/to/meteor-cluster`).'
}

/** The prebuilt package's module, or null when it is not installed. */
function prebuilt (name) {
  let entry
  try {
    entry = require.resolve(name)
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND') return null
    throw error
  }
  const found = require(`${name}/package.json`).version
  if (found !== version) {
    throw fail(`meteor-cluster ${version} needs ${name} ${version}, but ${found} is installed. ` +
      `Reinstall them together (npm install meteor-cluster@${version}).`)
  }
  return require(entry)
}

function load () {
  const here = platforms.current()
  if (here.os === 'win32') {
    throw fail('Windows is not supported: the pool talks to its workers over inherited Unix ' +
      'socketpairs and starts them with posix_spawn. Use WSL 2, or a Linux or macOS machine or container.')
  }
  const local = join(__dirname, '..', `meteor-cluster.${here.id}.node`)
  const name = `meteor-cluster-${here.id}`
  let binding
  try {
    binding = existsSync(local) ? require(local) : prebuilt(name)
  } catch (error) {
    if (error && error.code === CODE) throw error
    throw fail(`the native addon for ${platforms.describe(here)} is installed but could not be loaded ` +
      `(${existsSync(local) ? local : name}): ${error && error.message}`, error)
  }
  if (binding) return binding
  const isSupported = platforms.supported().some((t) => t.id === here.id)
  const platform = `${platforms.describe(here)}, platform id ${here.id}`
  throw fail(isSupported
    ? `the prebuilt addon for this platform (${platform}) is missing: the optional dependency ${name} ` +
      'was not installed. Reinstall without --no-optional / --omit=optional; a lockfile made on another ' +
      `platform can also leave it out (delete it and node_modules, then reinstall).\n${fromSource()}`
    : `no prebuilt addon for this platform (${platform}).\n${fromSource()}`)
}

module.exports = load()
