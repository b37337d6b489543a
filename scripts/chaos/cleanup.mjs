// Leaving nothing behind. Every process a chaos run starts (masters, their
// workers, the database) inherits a tag in its environment; whatever way the
// run ends (its end, Ctrl-C, its own failure), the processes still carrying
// the tag are SIGKILLed by pid and the database's directory is removed.
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync, rmSync } from 'node:fs'

const TAG = 'METEOR_CLUSTER_CHAOS_RUN'

/** Tags this process's environment, which every child inherits. */
export function tagChildren () {
  process.env[TAG] = randomUUID()
}

/** Pids of the live processes that carry this run's tag. */
export function taggedPids () {
  const needle = Buffer.from(`${TAG}=${process.env[TAG]}\0`)
  const pids = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

/** `dirs()` lists what to remove; synchronous, so it can run on `exit`. */
export function onAnyEnd (dirs) {
  let done = false
  const cleanup = () => {
    if (done) return
    done = true
    for (const pid of taggedPids()) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
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
