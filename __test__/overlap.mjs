// What tests compute from runs that record their start `s` and end `e` (ms).

/** The most runs of `runs` that overlap at any moment. */
export function maxOverlap (runs) {
  const edges = runs.flatMap((r) => [[r.s, 1], [r.e, -1]])
  // An end and a start at the same ms do not overlap: ends first.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let most = 0
  for (const [, d] of edges) {
    now += d
    most = Math.max(most, now)
  }
  return most
}

/** The most starts of `runs` in any window of `per` ms. */
export function maxInWindow (runs, per) {
  const starts = runs.map((r) => r.s).sort((a, b) => a - b)
  let most = 0
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[i] - starts[j] >= per) j++
    most = Math.max(most, i - j + 1)
  }
  return most
}
