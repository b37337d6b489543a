// workerpool with child processes (workerType: 'process'); `size` workers,
// started eagerly (minWorkers), one task in flight per worker.
import workerpool from 'workerpool'
import { fileURLToPath } from 'node:url'
import { runPoolSubject } from '../lib/pool-subject.mjs'

const script = fileURLToPath(new URL('../peers/workerpool-worker.cjs', import.meta.url))

runPoolSubject((size) => {
  const pool = workerpool.pool(script, { minWorkers: size, maxWorkers: size, workerType: 'process' })
  // No payload task: workerpool is not in the payload table.
  return {
    run: (x) => pool.exec('echo', [x]),
    call: (fn, data) => {
      if (fn !== 'hash') throw new Error(`workerpool has no ${fn} task here`)
      return pool.exec('hash', [data])
    },
    close: () => pool.terminate()
  }
})
