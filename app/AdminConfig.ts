import net from 'node:net';
import { checkSecret, ConfigError, type Env, readBoolean, readFileSetting, readOptionalString, readString } from '../config/index.js';

/** A certificate chain and its private key, read at start (PEM). */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/**
 * Where the operators' routes (processor rules, routes, reference data, DLQ replay, interactive
 * queries, /topology, the dashboard, the API docs) are served:
 *   - 'separate': their own listener (ADMIN_HOST:ADMIN_PORT), apart from the public one;
 *   - 'public': on the public listener (ADMIN_PORT=public, or the same number as PORT);
 *   - 'off': nowhere (ADMIN_PORT=off).
 */
export type AdminListenerMode = 'separate' | 'public' | 'off';

export interface AdminConfig {
  mode: AdminListenerMode;
  /** Bind address of the separate admin listener. */
  host: string;
  port: number;
  /** Bearer token every admin route requires when set. */
  token?: string;
  /** TLS of the separate admin listener. */
  tls?: TlsFiles;
  /** TLS of the public listener. */
  publicTls?: TlsFiles;
  /** Prometheus text (GET /metrics without event_name/format, /metrics/prometheus) on the public listener too. */
  prometheusPublic: boolean;
}

export const DEFAULT_ADMIN_PORT = 8081;

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Loopback only when the address cannot be reached from another host: 127.0.0.0/8, ::1 (and its IPv4-mapped form), localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (net.isIPv4(bare)) return LOOPBACK.check(bare, 'ipv4');
  if (net.isIPv6(bare)) return LOOPBACK.check(bare, 'ipv6');
  return false;
}

function readTlsFiles(env: Env, certName: string, keyName: string): TlsFiles | undefined {
  const certFile = readOptionalString(env, certName);
  const keyFile = readOptionalString(env, keyName);
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError(`${certFile ? keyName : certName} is missing: TLS needs both ${certName} and ${keyName}`);
  return { cert: readFileSetting(env, certName)!, key: readFileSetting(env, keyName)! };
}

function readAdminPort(env: Env, publicPort: number): { mode: AdminListenerMode; port: number } {
  const value = readOptionalString(env, 'ADMIN_PORT');
  // An ephemeral public port (tests, benches) gets an ephemeral admin port: two processes on one
  // machine must not both try 8081.
  if (value === undefined) {
    if (publicPort === DEFAULT_ADMIN_PORT) {
      throw new ConfigError(`PORT=${publicPort} is the admin listener's default port: set ADMIN_PORT to another port (or ADMIN_PORT=public to share it)`);
    }
    return { mode: 'separate', port: publicPort === 0 ? 0 : DEFAULT_ADMIN_PORT };
  }
  const lower = value.toLowerCase();
  if (lower === 'off') return { mode: 'off', port: 0 };
  if (lower === 'public') return { mode: 'public', port: publicPort };
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new ConfigError(`ADMIN_PORT="${value}" is not a port (0-65535), "public" (admin routes on the public listener) or "off"`);
  }
  const port = Number(value);
  return port !== 0 && port === publicPort ? { mode: 'public', port } : { mode: 'separate', port };
}

/**
 * The two doors: the public listener (ingestion, health, the seeds' public reads) and the admin
 * one. Refuses to start when admin routes would be reachable from another host without a token.
 */
export function readAdminConfig(env: Env, publicListener: { host: string; port: number }): AdminConfig {
  const { mode, port } = readAdminPort(env, publicListener.port);
  const tokenValue = readOptionalString(env, 'ADMIN_TOKEN');
  const token = tokenValue === undefined ? undefined : checkSecret('ADMIN_TOKEN', tokenValue);
  const host = mode === 'public' ? publicListener.host : readString(env, 'ADMIN_HOST', '127.0.0.1');
  if (mode === 'public' && (readOptionalString(env, 'ADMIN_TLS_CERT_FILE') || readOptionalString(env, 'ADMIN_TLS_KEY_FILE'))) {
    throw new ConfigError('ADMIN_TLS_CERT_FILE/ADMIN_TLS_KEY_FILE are set but admin routes share the public listener (ADMIN_PORT); use TLS_CERT_FILE/TLS_KEY_FILE');
  }
  const tls = mode === 'separate' ? readTlsFiles(env, 'ADMIN_TLS_CERT_FILE', 'ADMIN_TLS_KEY_FILE') : undefined;
  if (mode !== 'off' && !token && !isLoopbackHost(host)) {
    const where = mode === 'public' ? `the public listener (HOST=${host}, ADMIN_PORT=${env.ADMIN_PORT?.trim()})` : `ADMIN_HOST=${host}`;
    const loopback = mode === 'public' ? 'give them their own loopback listener (ADMIN_PORT=8081)' : 'bind them to loopback (ADMIN_HOST=127.0.0.1)';
    throw new ConfigError(`admin routes would be reachable on ${where} without a token: set ADMIN_TOKEN, or ${loopback}, or ADMIN_PORT=off`);
  }
  const prometheusPublic = readBoolean(env, 'PROMETHEUS_PUBLIC', true);
  if (!prometheusPublic && mode !== 'separate') {
    throw new ConfigError(`PROMETHEUS_PUBLIC=false moves Prometheus text to the admin listener, but ADMIN_PORT=${env.ADMIN_PORT?.trim()} gives it none: set ADMIN_PORT to its own port`);
  }
  return { mode, host, port, token, tls, publicTls: readTlsFiles(env, 'TLS_CERT_FILE', 'TLS_KEY_FILE'), prometheusPublic };
}
