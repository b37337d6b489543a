'use strict'
// Which platforms have a prebuilt addon, and which one this process runs on.
// The list is package.json's `napi.targets` (Rust target triples): the one
// source that the loader, the packaging scripts and the release workflow's
// check share. A triple maps to a platform id the way napi-rs names them
// (`x86_64-unknown-linux-gnu` -> `linux-x64-gnu`); the id names the package
// `meteor-cluster-<id>` and its file `meteor-cluster.<id>.node`.

const { readFileSync } = require('fs')
const { napi } = require('../package.json')

// Rust's names for CPUs and systems -> Node's (`process.arch`, `process.platform`).
const CPUS = { x86_64: 'x64', aarch64: 'arm64' }
const SYSTEMS = { linux: 'linux', darwin: 'darwin' }
// Rust's libc ABI -> npm's `libc` field.
const LIBCS = { gnu: 'glibc', musl: 'musl' }

/** `{ triple, id, os, cpu, libc }` for a Rust target triple (a `.2.17`-style glibc suffix is ignored). */
function target (triple) {
  const parts = triple.split('.')[0].split('-')
  const cpu = CPUS[parts[0]]
  const os = SYSTEMS[parts[2]]
  const abi = parts[3] || null
  if (!cpu || !os || (os === 'linux' && !LIBCS[abi])) {
    throw new Error(`no platform id is known for the target ${triple}; extend lib/platforms.js`)
  }
  const libc = os === 'linux' ? LIBCS[abi] : null
  return { triple, id: os === 'linux' ? `${os}-${cpu}-${abi}` : `${os}-${cpu}`, os, cpu, libc }
}

/** Every platform with a prebuilt addon, in package.json's order. */
function supported () {
  return napi.targets.map(target)
}

// Node's own glibc-or-musl answer (`process.report`) costs about 5-8 ms, and
// every worker loads the addon, so the cheap look at ldd (a script that names
// musl on musl systems, as napi-rs's loader reads it) comes first.
function isMusl () {
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null
    return !(report && report.header && report.header.glibcVersionRuntime)
  }
}

/** This process's platform: `{ os, cpu, libc, id }` (libc is `glibc`, `musl` or null). */
function current () {
  const os = process.platform
  const cpu = process.arch
  if (os !== 'linux') return { os, cpu, libc: null, id: `${os}-${cpu}` }
  const musl = isMusl()
  // 32-bit ARM builds are named by their hard-float ABI, as napi build names them.
  const abi = (musl ? 'musl' : 'gnu') + (cpu === 'arm' ? 'eabihf' : '')
  return { os, cpu, libc: musl ? 'musl' : 'glibc', id: `${os}-${cpu}-${abi}` }
}

/** "linux x64 with glibc": a platform as people read it. */
function describe ({ os, cpu, libc }) {
  return `${os} ${cpu}${libc ? ` with ${libc}` : ''}`
}

module.exports = { target, supported, current, describe }
