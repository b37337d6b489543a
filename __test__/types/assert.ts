// Type assertions for the compile tests: `check<Equal<A, B>>()` fails to
// compile unless A and B are the same type.

/** `true` when A and B are the same type (not merely assignable). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

/** Compiles only when given `true`. */
export declare function check<T extends true>(): void

/** A value of type T, for checks that need one. */
export declare function given<T>(): T
