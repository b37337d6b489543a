// The floor of worker start: how long an empty Node process takes here,
// from spawn to exit (`node -e ''`), with the same environment as the
// subjects' workers (NODE_EXTRA_CA_CERTS, for one, makes every Node process
// parse its certificates at boot).
import { spawnSync } from 'node:child_process'
import { args, now, runSubject } from '../lib/common.mjs'

const { workload } = args()

runSubject(async () => {
  if (workload !== 'start') throw new Error(`node-boot only measures start, not ${workload}`)
  const t0 = now()
  const child = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' })
  if (child.status !== 0) throw new Error(`node -e '' exited with ${child.status ?? child.signal}`)
  return { metric: 'ms', value: now() - t0 }
})
