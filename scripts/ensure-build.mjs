// Builds the native addon (debug profile) when it is missing or older than
// the Rust sources, so `npm test` and `npm run demo` work on a fresh clone.
// It writes meteor-cluster.<platform>.node in the package root, the first
// place lib/binding.js looks.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { execSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { current } = createRequire(import.meta.url)('../lib/platforms.js')
const addon = join(root, `meteor-cluster.${current().id}.node`)

function newest (dir) {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

const sources = Math.max(newest(join(root, 'src')), ...['build.rs', 'Cargo.toml', 'Cargo.lock'].map((f) => statSync(join(root, f)).mtimeMs))
if (!existsSync(addon) || statSync(addon).mtimeMs < sources) {
  console.error('meteor-cluster: building the native addon (cargo, debug profile)…')
  execSync('npx napi build --platform --no-js --dts binding.d.ts', { cwd: root, stdio: 'inherit' })
}
