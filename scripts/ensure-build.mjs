// Builds the native addon (debug profile) when it is missing or older than
// the Rust sources, so `npm test` and `npm run demo` work on a fresh clone.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { execSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const addon = readdirSync(root).find((f) => f.endsWith('.node'))

function newest (dir) {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'Cargo.toml')).mtimeMs)
if (!addon || !existsSync(join(root, 'binding.js')) || statSync(join(root, addon)).mtimeMs < sources) {
  console.error('meteor-cluster: building the native addon (cargo, debug profile)…')
  execSync('npx napi build --platform --js binding.js --dts binding.d.ts', { cwd: root, stdio: 'inherit' })
}
