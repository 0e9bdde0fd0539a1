import { Counter, type Registry } from 'prom-client';

/**
 * Prometheus metrics of the Kafka log, counted per request or per rebalance, never per record
 * on a hot path (records are added in bulk).
 */
export class KafkaLogMetrics {
  private readonly records: Counter;
  private readonly requests: Counter;
  private readonly errors: Counter;
  private readonly transactions: Counter<'result'>;
  private readonly rebalances: Counter<'group'>;
  private readonly pollErrors: Counter<'group'>;
  private readonly producerResets: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.records = new Counter({ name: 'streamline_kafka_produced_records_total', help: 'Records acknowledged by Kafka (plain produce)', registers });
    this.requests = new Counter({ name: 'streamline_kafka_produce_requests_total', help: 'Produce sends to Kafka (plain produce)', registers });
    this.errors = new Counter({ name: 'streamline_kafka_produce_errors_total', help: 'Plain produce sends that failed', registers });
    this.transactions = new Counter({ name: 'streamline_kafka_transactions_total', help: 'Kafka transactions by outcome', labelNames: ['result'], registers });
    this.rebalances = new Counter({ name: 'streamline_kafka_rebalances_total', help: 'Completed group joins (rebalances) of this process’s consumers', labelNames: ['group'], registers });
    this.producerResets = new Counter({
      name: 'streamline_kafka_producer_resets_total',
      help: 'Plain producers replaced after the broker lost their state (restart): the send is repeated with a new producer id',
      registers,
    });
    this.pollErrors = new Counter({ name: 'streamline_kafka_poll_errors_total', help: 'Poll rounds that failed (broker unreachable) and were retried', labelNames: ['group'], registers });
  }

  produced(records: number): void {
    this.requests.inc();
    this.records.inc(records);
  }

  produceFailed(): void {
    this.errors.inc();
  }

  transaction(result: 'committed' | 'aborted' | 'failed'): void {
    this.transactions.inc({ result });
  }

  rebalanced(group: string): void {
    this.rebalances.inc({ group });
  }

  producerReset(): void {
    this.producerResets.inc();
  }

  pollFailed(group: string): void {
    this.pollErrors.inc({ group });
  }
}
