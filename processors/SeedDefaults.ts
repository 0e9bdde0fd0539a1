// The seeds' defaults PipelineConfig reads, apart from the processors that apply them: every
// thread reads PipelineConfig, and a thread that runs only the sink should not load the topology
// to learn two constants.

/** Seed 002's TTLs per event type; other types use defaultTtlMs. */
export const DEFAULT_DEDUPE_TTLS: Readonly<Record<string, number>> = {
  attempt: 24 * 3_600_000,
  session: 12 * 3_600_000,
  placement: 7 * 86_400_000,
};

/** Seed 001: "events that fail more than 3 times are permanently quarantined". */
export const DEFAULT_MAX_REPLAYS = 3;
