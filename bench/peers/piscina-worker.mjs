// piscina's tasks: the default export returns its input (the echo); the
// named ones are the payload and CPU-bound tasks (`pool.run(data, { name })`).
import work from '../lib/work.cjs'

export default function echo (x) {
  return x
}

export const payload = work.payloadTask
export const hash = work.hashTask
