// The single-core baseline of the CPU-bound workload: the same hash tasks in
// this one process, no pool, one after another
// (bench/lib/measure.mjs measureCpuBaseline).
import { args, runSubject, watchdog } from '../lib/common.mjs'
import { measureCpuBaseline } from '../lib/measure.mjs'
import work from '../lib/work.cjs'

const { workload, params } = args()
watchdog(params.watchdogMs ?? 60000)

runSubject(async () => {
  if (workload !== 'cpuBaseline') throw new Error(`unknown workload ${workload}`)
  work.hashTask({ seed: 0, rounds: params.rounds }) // warm up (and make the 1 MiB block)
  return measureCpuBaseline(params)
})
