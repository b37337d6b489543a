// Typings of `meteor-cluster/metrics`.

/** What `collectMetrics` needs of a prom-client `Registry` (prom-client's own type fits). */
export interface MetricsRegistry {
  registerMetric(metric: any): void
}

/**
 * Registers the master's series (the same as `cluster.metrics()` gives)
 * in a prom-client registry, for apps that already have one: each is read
 * from the master when the registry is collected. Returns the registry.
 * In a worker, collecting rejects with `ERR_MASTER_ONLY`.
 */
export declare function collectMetrics<R extends MetricsRegistry>(registry: R): R
