// workerpool with child processes (workerType: 'process'); `size` workers,
// started eagerly (minWorkers), one task in flight per worker.
import workerpool from 'workerpool'
import { fileURLToPath } from 'node:url'
import { runPoolSubject } from '../lib/pool-subject.mjs'

const script = fileURLToPath(new URL('../peers/workerpool-worker.cjs', import.meta.url))

runPoolSubject((size) => {
  const pool = workerpool.pool(script, { minWorkers: size, maxWorkers: size, workerType: 'process' })
  return { run: (x) => pool.exec('echo', [x]), close: () => pool.terminate() }
})
