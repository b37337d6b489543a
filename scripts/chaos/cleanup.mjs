// Leaving nothing behind. Every process a chaos run starts (masters, their
// workers, the database) inherits a tag in its environment; whatever way the
// run ends (its end, Ctrl-C, its own failure), the processes still carrying
// the tag are SIGKILLed by pid and the database's directory is removed.
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { taggedPids as taggedBy, killPids } from '../lib/processes.mjs'

const TAG = 'METEOR_CLUSTER_CHAOS_RUN'

/** Tags this process's environment, which every child inherits. */
export function tagChildren () {
  process.env[TAG] = randomUUID()
}

/** Pids of the live processes that carry this run's tag. */
export function taggedPids () {
  return taggedBy(TAG, process.env[TAG])
}

/** `dirs()` lists what to remove; synchronous, so it can run on `exit`. */
export function onAnyEnd (dirs) {
  let done = false
  const cleanup = () => {
    if (done) return
    done = true
    killPids(taggedPids())
    for (const dir of dirs()) rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      console.error(`\nchaos: ${signal}, stopping every process of the run…`)
      cleanup()
      process.exit(130)
    })
  }
  return cleanup
}
