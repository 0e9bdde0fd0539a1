import { Counter, type Registry } from 'prom-client';

/**
 * Metrics of a RemoteLog, in the registry of the thread that uses it. Shared by every RemoteLog
 * of that registry (a thread may hold several), hence the reuse.
 */
export class RemoteLogMetrics {
  private readonly serverGone: Counter<'reason'>;

  constructor(registry: Registry) {
    this.serverGone =
      (registry.getSingleMetric('streamline_log_remote_server_gone_total') as Counter<'reason'> | undefined) ??
      new Counter({
        name: 'streamline_log_remote_server_gone_total',
        help: 'Times a RemoteLog lost its log server (its thread exited or its port closed) while in use; every call then fails',
        labelNames: ['reason'],
        registers: [registry],
      });
  }

  serverWentAway(reason: 'port_closed' | 'reported'): void {
    this.serverGone.inc({ reason });
  }
}
