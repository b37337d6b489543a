// A plain Node cluster + process.send dispatcher (bench/peers/plain-cluster.mjs).
import { PlainClusterPool } from '../peers/plain-cluster.mjs'
import { runPoolSubject } from '../lib/pool-subject.mjs'

runPoolSubject((size) => {
  const pool = new PlainClusterPool(size)
  return { run: (x) => pool.run(x), call: (fn, data) => pool.call(fn, data), ready: () => pool.ready(), close: () => pool.close() }
})
