// A seeded random source (mulberry32): the same seed gives the same tasks
// and the same fault schedule, so a run can be replayed with `--seed N`.
// What the processes then do under that schedule still varies with timing.

export function randomSource (seed) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    /** In [0, 1). */
    next,
    /** In [lo, hi). */
    between: (lo, hi) => lo + next() * (hi - lo),
    /** An integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
    shuffle (list) {
      const out = [...list]
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        ;[out[i], out[j]] = [out[j], out[i]]
      }
      return out
    }
  }
}

/** A fresh seed when none is given. */
export function newSeed () {
  return Math.floor(Math.random() * 2 ** 31)
}
