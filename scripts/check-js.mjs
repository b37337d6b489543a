// `node --check` on every JavaScript file of the package, tests and benches.
import { readdirSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const skip = new Set(['node_modules', 'target', '.git', 'npm'])

function * files (dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * files(path)
    else if (/\.(c|m)?js$/.test(entry.name)) yield path
  }
}

let count = 0
for (const file of files(root)) {
  execFileSync(process.execPath, ['--check', file], { stdio: 'inherit' })
  count++
}
console.log(`node --check: ${count} files OK`)
