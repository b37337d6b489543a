// Copies the dashboard's vendored library (uPlot, from npm) into its asset
// folder, lib/dashboard/assets/vendor/, whose files are committed so the
// package ships them; `--check` (run by `npm run lint`) fails when a
// committed copy differs from the installed package's.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const vendor = join(root, 'lib', 'dashboard', 'assets', 'vendor')
const FILES = [
  ['node_modules/uplot/dist/uPlot.iife.min.js', 'uPlot.iife.min.js'],
  ['node_modules/uplot/dist/uPlot.min.css', 'uPlot.min.css'],
  ['node_modules/uplot/LICENSE', 'uPlot.LICENSE.txt']
]

const check = process.argv.includes('--check')
let stale = 0
mkdirSync(vendor, { recursive: true })
for (const [from, to] of FILES) {
  const source = join(root, from)
  if (!existsSync(source)) {
    console.error(`vendor-assets: ${from} is missing; run npm install`)
    process.exit(1)
  }
  const wanted = readFileSync(source)
  const target = join(vendor, to)
  const same = existsSync(target) && readFileSync(target).equals(wanted)
  if (same) continue
  if (check) {
    console.error(`vendor-assets: lib/dashboard/assets/vendor/${to} is not ${from}; run node scripts/vendor-assets.mjs`)
    stale++
  } else {
    writeFileSync(target, wanted)
    console.log(`vendor-assets: wrote lib/dashboard/assets/vendor/${to}`)
  }
}
if (stale > 0) process.exit(1)
if (check) console.log('vendor-assets: the vendored files are up to date')
