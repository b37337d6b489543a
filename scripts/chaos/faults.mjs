// The faults of a chaos run, each recorded in the harness's journal with
// its time and target just before it is dealt, so that every run it may cut
// can be traced back to it.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The faults, bound to the run's processes. `journal` is the harness's;
 * `say(text)` prints progress; `random` picks the worker to kill.
 */
export function faultDealer ({ masters, server, journal, random, say }) {
  return {
    /** SIGKILLs one live worker, picked at random; false when none is alive. */
    killWorker () {
      const workers = masters.workers()
      if (workers.length === 0) return false
      const { pid, proc, master, masterProc } = random.pick(workers)
      journal.write({ fault: 'worker-sigkill', proc, pid, master, masterProc })
      try {
        process.kill(pid, 'SIGKILL')
      } catch (error) {
        // It exited by itself between the look in /proc and the kill.
        journal.write({ fault: 'worker-sigkill-missed', proc, pid, message: error.message })
        return false
      }
      say(`worker ${pid} of master ${master} SIGKILLed`)
      return true
    },

    /** SIGKILLs master `name` (its workers end with it), restarts it `downMs` later. */
    async killMaster (name, downMs) {
      const proc = masters.proc(name)
      if (proc === null) throw new Error(`master ${name} is not running; the schedule never kills a master twice in a row`)
      const workers = masters.workers().filter((w) => w.masterProc === proc).map((w) => w.proc)
      journal.write({ fault: 'master-sigkill', master: name, proc, workers })
      await masters.kill(name)
      say(`master ${name} (${proc}) SIGKILLed with its workers ${workers.join(', ') || '(none)'}; restart in ${downMs} ms`)
      await sleep(downMs)
      const started = Date.now()
      const restarted = await masters.start(name)
      journal.write({ fault: 'master-restarted', master: name, proc: restarted, startMs: Date.now() - started })
      say(`master ${name} restarted (${restarted})`)
    },

    /** Stops the database with `signal`, starts it again `downMs` after it exited. */
    async stopDatabase (signal, downMs) {
      const pid = server.pid
      const kind = signal === 'SIGKILL' ? 'db-sigkill' : 'db-sigterm'
      journal.write({ fault: kind, pid })
      const stopping = Date.now()
      await server.stop(signal)
      const stopMs = Date.now() - stopping
      journal.write({ fault: 'db-exited', pid, stopMs })
      await sleep(downMs)
      const starting = Date.now()
      await server.restart()
      const outageMs = Date.now() - stopping
      journal.write({ fault: 'db-restarted', pid: server.pid, startMs: Date.now() - starting, outageMs })
      say(`database ${signal === 'SIGKILL' ? 'SIGKILLed' : 'SIGTERMed'} (exit took ${stopMs} ms), back after an outage of ${outageMs} ms`)
      return outageMs
    }
  }
}
