import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed body when it is JSON. */
  body: unknown;
  /** SHA-256 fingerprint of the server certificate (TLS only). */
  peerFingerprint?: string;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Trust this certificate (PEM) for https: addresses. */
  ca?: Buffer;
}

/**
 * One request with node:http/https: fetch cannot be given a CA to trust, and the TLS tests
 * verify the server's self-signed certificate rather than switching verification off.
 */
export function call(base: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const url = new URL(path, base);
  const payload = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(url, { method: options.method ?? (payload === undefined ? 'GET' : 'POST'), headers, ca: options.ca, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      const socket = response.socket as TLSSocket;
      const peerFingerprint = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate().fingerprint256 : undefined;
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, body, peerFingerprint });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}
