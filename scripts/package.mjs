// `npm run package`: the installable tarballs, in dist/:
//   meteor-cluster-<version>.tgz        the JS package; its optionalDependencies
//                                       name every platform package at the same
//                                       version (napi-rs's convention)
//   meteor-cluster-<id>-<version>.tgz   one per platform package whose addon
//                                       is in npm/<id>/
//
//   node scripts/package.mjs [--no-build]
//
// By default it first builds this machine's addon (scripts/build-release.mjs,
// skipped when up to date) and needs only that one. The release workflow
// puts every target's addon into npm/<id>/ and passes --no-build: then every
// platform package must be there, so no release can name a missing one.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { buildRelease, hostTarget, addonPath } from './build-release.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const platforms = createRequire(import.meta.url)('../lib/platforms.js')
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))

/** Packs `dir` into dist/; returns the tarball's file name. */
function pack (dir) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dist], { cwd: dir, encoding: 'utf8' })
  return JSON.parse(out)[0].filename
}

/** Fails unless npm/<id>/package.json says what its target needs, at the main package's version. */
function checkPlatformPackage (target, version) {
  const path = join(root, 'npm', target.id, 'package.json')
  if (!existsSync(path)) throw new Error(`${path} is missing (one per napi.targets entry)`)
  const pkg = readJson(path)
  const expect = {
    name: `meteor-cluster-${target.id}`,
    version,
    main: `meteor-cluster.${target.id}.node`,
    os: [target.os],
    cpu: [target.cpu],
    libc: target.libc ? [target.libc] : undefined
  }
  for (const [field, value] of Object.entries(expect)) {
    if (JSON.stringify(pkg[field]) !== JSON.stringify(value)) {
      const hint = field === 'version' ? '; `npx napi version` brings npm/*/package.json in step' : ''
      throw new Error(`npm/${target.id}/package.json: ${field} is ${JSON.stringify(pkg[field])}, ` +
        `expected ${JSON.stringify(value)}${hint}`)
    }
  }
}

/** The main package, staged with its publish-time package.json, packed. */
function packMain (pkg, targets) {
  const stage = mkdtempSync(join(tmpdir(), 'meteor-cluster-stage-'))
  try {
    for (const entry of [...pkg.files, 'README.md']) cpSync(join(root, entry), join(stage, entry), { recursive: true })
    const published = { ...pkg }
    // Scripts and dev tools concern this repository (they need src/, Cargo);
    // an installed package has neither.
    delete published.scripts
    delete published.devDependencies
    published.optionalDependencies = Object.fromEntries(targets.map((t) => [`meteor-cluster-${t.id}`, pkg.version]))
    writeFileSync(join(stage, 'package.json'), JSON.stringify(published, null, 2) + '\n')
    return pack(stage)
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
}

function main () {
  const noBuild = process.argv.includes('--no-build')
  const pkg = readJson(join(root, 'package.json'))
  const targets = platforms.supported()
  for (const target of targets) checkPlatformPackage(target, pkg.version)

  const needed = noBuild ? targets.map((t) => t.triple) : [hostTarget()]
  if (!noBuild) buildRelease(needed[0])
  const missing = needed.filter((triple) => !existsSync(addonPath(triple)))
  if (missing.length > 0) {
    throw new Error(`no addon for ${missing.join(', ')} in npm/<id>/ (scripts/build-release.mjs --target <triple> builds one)`)
  }

  rmSync(dist, { recursive: true, force: true })
  mkdirSync(dist)
  const written = [packMain(pkg, targets)]
  for (const target of targets) {
    if (existsSync(addonPath(target.triple))) written.push(pack(join(root, 'npm', target.id)))
  }
  for (const file of written) console.log(`dist/${file} (${Math.round(statSync(join(dist, file)).size / 1024)} KiB)`)
  const absent = targets.filter((t) => !existsSync(addonPath(t.triple))).map((t) => t.id)
  if (absent.length > 0) console.log(`not packed (no addon built here; the release workflow builds them): ${absent.join(', ')}`)
}

try {
  main()
} catch (error) {
  console.error(`meteor-cluster: npm run package: ${error.message}`)
  process.exit(1)
}
