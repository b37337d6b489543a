// The dashboard's page assets: shipped in the package, no CDN, under
// 200 KB gzipped in all, nothing inline that a strict CSP would block, and
// the vendored chart library the same as the npm package's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const folder = join(root, 'lib', 'dashboard', 'assets')

function * files (dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield * files(path)
    else yield path
  }
}

test('the page\'s assets weigh under 200 KB gzipped in all, and load nothing from another origin', () => {
  let gzipped = 0
  for (const path of files(folder)) {
    const body = readFileSync(path)
    gzipped += gzipSync(body, { level: 9 }).length
    if (/\.(js|css)$/.test(path) && !path.includes('vendor')) {
      assert.doesNotMatch(body.toString('utf8'), /https?:\/\/(?!www\.w3\.org)/, `${path} names no other origin`)
    }
  }
  assert.ok(gzipped < 200 * 1024, `${gzipped} bytes gzipped`)
  const { page } = require(join(root, 'lib', 'dashboard', 'page.js'))
  const html = page({ base: '/jobs', token: 't', user: '"><b>x</b>', readOnly: false, mode: 'embedded' })
  assert.doesNotMatch(html, /https?:\/\//, 'the page loads nothing from elsewhere')
  assert.doesNotMatch(html, /<script>|<style|\sstyle=|\son\w+=/, 'no inline script, style or handler')
  assert.match(html, /content="&quot;&gt;&lt;b&gt;x&lt;\/b&gt;"/, 'a user name is escaped as attribute text')
})

test('the vendored uPlot is the installed package\'s (scripts/vendor-assets.mjs --check)', () => {
  const run = spawnSync(process.execPath, [join(root, 'scripts', 'vendor-assets.mjs'), '--check'], { encoding: 'utf8' })
  assert.equal(run.status, 0, run.stderr)
})
