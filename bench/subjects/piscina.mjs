// piscina: a pool of worker_threads; `size` threads, started eagerly.
import { Piscina } from 'piscina'
import { runPoolSubject } from '../lib/pool-subject.mjs'

const filename = new URL('../peers/piscina-worker.mjs', import.meta.url).href

runPoolSubject((size) => {
  const pool = new Piscina({ filename, minThreads: size, maxThreads: size })
  return { run: (x) => pool.run(x), call: (fn, data) => pool.run(data, { name: fn }), close: () => pool.destroy() }
})
