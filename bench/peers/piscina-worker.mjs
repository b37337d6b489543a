// piscina's task: returns its input.
export default function echo (x) {
  return x
}
