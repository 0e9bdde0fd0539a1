import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  /** Answers other than 2xx/3xx (e.g. 503 from backpressure). */
  non2xx: number;
  socketErrors: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

/**
 * Seed 004 single events (POST /events), each with its own event_id so the pipeline's dedupe
 * keeps every one; what a user's load test with wrk sends.
 */
const SINGLE_EVENT_SCRIPT = `
local counter = 0
local prefix = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000))
request = function()
  counter = counter + 1
  local body = string.format('{"event_name":"product_view","channel":"web","campaign_id":"summer_sale_2024","user_id":"user_%d","timestamp":%d000,"event_id":"wrk-%s-%d","tags":["electronics"],"metadata":{"product_id":"SKU-%d"}}', counter % 100000, os.time(), prefix, counter, counter % 1000)
  return wrk.format("POST", "/events", {["Content-Type"] = "application/json"}, body)
end
`;

/** wrk is the Debian package of that name; the scenario is skipped with a note without it. */
export function hasWrk(): boolean {
  return ['/usr/bin/wrk', '/usr/local/bin/wrk'].some((file) => fs.existsSync(file));
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

/** Parses wrk's --latency report. */
export function parseWrk(output: string): WrkResult {
  const latency = (p: string) => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
    return match ? toMs(match[1]!, match[2]!) : NaN;
  };
  const max = /Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/.exec(output);
  const requests = /(\d+) requests in/.exec(output);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requests: Number(requests?.[1] ?? 0),
    requestsPerSecond: Number(rps?.[1] ?? 0),
    non2xx: Number(non2xx?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    latencyMs: { p50: latency('50'), p90: latency('90'), p99: latency('99'), max: max ? toMs(max[1]!, max[2]!) : NaN },
  };
}

/** wrk -t1 -c<connections> -d<seconds> --latency with the single-event script, against 127.0.0.1 only. */
export async function wrkSingleEvents(address: string, connections: number, seconds: number): Promise<WrkResult> {
  const url = new URL(address);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') throw new Error(`load goes to 127.0.0.1 only, not ${url.hostname}`);
  const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'streamline-wrk-')), 'single-event.lua');
  fs.writeFileSync(script, SINGLE_EVENT_SCRIPT);
  try {
    const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, `${url.origin}/events`], { maxBuffer: 1 << 20 });
    return parseWrk(stdout);
  } finally {
    fs.rmSync(path.dirname(script), { recursive: true, force: true });
  }
}
