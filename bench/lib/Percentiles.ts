/** Exact percentiles of latency samples (ms); the runs are bounded, so all samples fit. */
export class Percentiles {
  private samples = new Float64Array(1 << 16);
  private count = 0;

  add(value: number): void {
    if (this.count === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count++] = value;
  }

  get size(): number {
    return this.count;
  }

  summary(): { p50: number; p95: number; p99: number; max: number } {
    if (this.count === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
    const sorted = this.samples.slice(0, this.count).sort();
    const at = (q: number) => Math.round(sorted[Math.min(this.count - 1, Math.ceil(q * this.count) - 1)] * 10) / 10;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
  }
}

/** The median of a run's figures: the middle one, or the mean of the two middle ones for an even count. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
